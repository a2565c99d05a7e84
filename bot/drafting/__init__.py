"""Drafters propose replies; the core decides what happens to them."""
from bot.drafting.base import Drafter, DraftRequest, DraftResult, DrafterError

__all__ = ["Drafter", "DraftRequest", "DraftResult", "DrafterError"]
