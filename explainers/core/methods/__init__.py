"""Explanation methods, one module each, registered by name (see registry.py)."""
from .registry import MethodError, method_config, method_get, method_list, register_method

__all__ = ["MethodError", "method_config", "method_get", "method_list", "register_method"]
