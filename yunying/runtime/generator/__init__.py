"""The metadata-driven synthetic data generator (runtime layer).

Package documents of kind ``generator`` (``generators/<code>.yaml``,
docs/generator.md) describe plausible demo and benchmark data; this package
draws it: :func:`generate` fills the entity tables in batches (bypassing the
record service), :func:`check_generators` is the package check that reports
bad generator documents as located issues.
"""

from yunying.runtime.generator.engine import (
    GenerateOptions, GenerateReport, find_generator, generate, generated_entities, month_window,
)

__all__ = ["GenerateOptions", "GenerateReport", "find_generator", "generate",
           "generated_entities", "month_window"]
