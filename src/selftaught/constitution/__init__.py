"""Constitutions: YAML principles for Constitutional AI, validated, hashed and sampled.

    from selftaught.constitution import load_constitution, constitution_hash, sample_principle

    c = load_constitution("my.yaml")          # ConfigError(file, line, reason) if invalid
    h = constitution_hash(c)                  # recorded with every critique and pair
    p = sample_principle(c, random.Random(0), prompt_tags=("medical",))
"""

from selftaught.constitution.load import (
    BUNDLED,
    bundled_path,
    canonical_json,
    constitution_hash,
    load_constitution,
    load_prompts,
    parse_constitution,
    prompt_tags,
    read_prompts,
    sample_principle,
)
from selftaught.constitution.schema import Constitution, FewShotExample, Principle

__all__ = [
    "BUNDLED",
    "Constitution",
    "FewShotExample",
    "Principle",
    "bundled_path",
    "canonical_json",
    "constitution_hash",
    "load_constitution",
    "load_prompts",
    "parse_constitution",
    "prompt_tags",
    "read_prompts",
    "sample_principle",
]
