"""The one error a simulated participant stops with."""
from __future__ import annotations


class BotStuck(Exception):
    """A simulated participant could not go on; the message names the page and what was wrong."""
