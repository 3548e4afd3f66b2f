"""The Chinese edition's machinery, used by ``tools/translate.py``: ``catalogue`` (the translation files),
``markdown`` (what a translation must keep), ``edition`` (building the Chinese notebooks), ``documents``
(translated Markdown documents) and ``workflow`` (the translator's commands)."""
