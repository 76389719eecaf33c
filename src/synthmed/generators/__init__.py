"""Generators: one protocol (``base``), one registry (``registry``), one folder per modality."""

from synthmed.generators.base import BaseGenerator, GeneratorTags, load_generator
from synthmed.generators.registry import generator_class, get_generator, list_generators

__all__ = [
    "BaseGenerator",
    "GeneratorTags",
    "generator_class",
    "get_generator",
    "list_generators",
    "load_generator",
]
