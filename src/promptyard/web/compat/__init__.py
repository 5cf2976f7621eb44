"""PromptLayer-shaped routes for the official `promptlayer` SDK: translate -> service -> PromptLayer shape."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
