"""SDK-side redaction (issue 13): `Promptyard(..., redact=True)` rewrites every log, score and metadata
item at the two ways out of the process, before a request body is encoded and before items are written to
the spool (Batcher._ready), so neither the HTTP body nor the disk spool ever holds the original text. It
runs on the sender thread: log() stays a queue append (redacting a chat log costs milliseconds of CPU).

The detectors and operators are the server's own (domain/redaction.py, domain/redaction_policy.py); the
fields are the ones the server redacts (services/redaction.py), in the shape the SDK sends them: input,
output, prompt variables, the error message, metadata values, tags, score comments and the routing unit
(a metadata value). Object keys, names, numbers and ids are left alone.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from promptyard.domain import redaction_policy as rp
from promptyard.sdk.forks import Rearmed
from promptyard.sdk.text import clean


class LogRedactor(Rearmed):
    """One policy applied to log, score and metadata bodies (callable from any thread)."""

    def __init__(self, redact: bool | Mapping[str, Any], key: bytes | str | None = None):
        if redact is not True and not isinstance(redact, Mapping):
            raise TypeError("redact must be True (the default policy) or a policy object "
                            "{enabled, detectors: {kind: {on, operator, placeholder}}}")
        raw_key = key.encode() if isinstance(key, str) else (key or b"")
        try:
            self._redactor = rp.Redactor(rp.parse(None if redact is True else dict(redact)), raw_key)
        except ModuleNotFoundError as exc:  # `regex`, which custom patterns need, comes with the server extra
            raise ValueError(f"custom redaction patterns need the {exc.name!r} package: pip install regex") from None
        self._reset()

    def _reset(self) -> None:
        """A fresh lock (also in a forked child, see forks.py)."""
        self._lock = threading.RLock()  # the Redactor keeps a memo and counts

    def _value(self, value: Any) -> Any:
        # clean(): plain JSON data first (provider objects, tuples, dates), so no string escapes unseen.
        return self._redactor.value(clean(value))

    def _text(self, value: Any) -> Any:
        return self._redactor.text(value) if isinstance(value, str) else value

    def item(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """The redacted body of a queued item ({kind: log | score | metadata, body})."""
        kind, body = item["kind"], item["body"]
        return self.log(body) if kind == "log" else self.score(body) if kind == "score" else self.metadata(body)

    def log(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            out = dict(body)
            for name in ("input", "output"):
                if name in out:
                    out[name] = self._value(out[name])
            prompt = out.get("prompt")
            if isinstance(prompt, Mapping) and prompt.get("variables"):
                out["prompt"] = dict(prompt) | {"variables": self._value(prompt["variables"])}
            error = out.get("error")
            if isinstance(error, Mapping) and "message" in error:
                out["error"] = dict(error) | {"message": self._text(error["message"])}
            if "metadata" in out:
                out["metadata"] = {k: self._text(v) for k, v in out["metadata"].items()}
            if "tags" in out:  # as the server stores them: a tag that redacts to nothing goes
                out["tags"] = list(dict.fromkeys(t for t in (self._text(t) for t in clean(out["tags"])) if t))
            if isinstance(out.get("scores"), list):
                out["scores"] = [self.score(s) if isinstance(s, Mapping) else s for s in clean(out["scores"])]
            routing = out.get("routing")
            if isinstance(routing, Mapping) and routing.get("unit"):
                out["routing"] = dict(routing) | {"unit": self._text(routing["unit"])}
            return out

    def score(self, body: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            out = dict(body)
            if "comment" in out:
                out["comment"] = self._text(out["comment"])
            return out

    def metadata(self, body: Mapping[str, str]) -> dict[str, str]:
        with self._lock:
            return {k: self._text(v) for k, v in body.items()}
