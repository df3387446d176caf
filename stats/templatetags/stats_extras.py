from django import template

register = template.Library()


@register.filter
def get(mapping, key):
    """Look a key up in a dict from a template: {{ names|get:slug }}."""
    try:
        return mapping.get(key, key)
    except AttributeError:
        return key
