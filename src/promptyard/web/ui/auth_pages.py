"""(placeholder: filled by the UI work)"""

from fastapi import APIRouter

router = APIRouter()
