"""raykopf: a kopf-based, drop-in replacement for the KubeRay operator."""

__version__ = "0.1.0"
