"""Where a checkpoint lies, as the store records it: relative to the home folder.

In: a checkpoint folder (absolute, or relative to the working directory) and the home folder
(``--home`` / ``SELFTAUGHT_HOME``). Out: the text the store keeps (``stored_location``) and,
back from the store, an absolute folder (``resolve_location``). The store does both at its
boundary (``Store(url, home=...)``), so every reader of ``Checkpoint.path`` gets a folder it
can open from any working directory.

Why: a run's checkpoints live under ``HOME/runs/RUN/``. Recorded relative to the home, a
run started in one directory is resumed, labelled, evaluated, exported and reported from
another, and a home moved (or mounted at another path on another host) works once
``SELFTAUGHT_HOME``/``--home`` points at it. A folder outside the home -- a user's own
model given as ``policy.init``, a teacher -- is recorded absolute.

Stores written before this (paths relative to the run's working directory, or absolute):
an absolute path is used as it is; a relative one is tried under the home first, then as
given (relative to the current directory), so an old run still opens from the directory it
was started in.

Also here: ``readable_folder``, the modes of a saved checkpoint (``tempfile.mkdtemp`` makes
``drwx------`` and safetensors writes its weights ``-rw-------``): folders ``0o777 & ~umask``,
files ``0o666 & ~umask`` -- ``drwxr-xr-x``/``-rw-r--r--`` under the usual umask 022, so
other users and hosts sharing a home can read them, and whatever stricter mode the user's
umask asks for.
"""

from __future__ import annotations

import os
from pathlib import Path


def stored_location(path: str | Path, home: str | Path) -> str:
    """What the store records for the folder ``path``: relative to ``home`` (posix) when
    inside it, else absolute.

    >>> stored_location("/h/runs/r/round-001", "/h")
    'runs/r/round-001'
    >>> stored_location("/models/qwen", "/h")
    '/models/qwen'
    """
    full, root = Path(os.path.abspath(path)), Path(os.path.abspath(home))
    for folder, base in ((full, root), (Path(os.path.realpath(full)), Path(os.path.realpath(root)))):
        if folder.is_relative_to(base):
            return folder.relative_to(base).as_posix()
    return str(full)


def resolve_location(stored: str, home: str | Path) -> str:
    """The absolute folder a stored location names under ``home``: absolute as it is; relative
    under the home if there, else as given from the current directory if there (an old store),
    else under the home (so a message names where it was looked for).

    >>> resolve_location("/models/qwen", "/h")
    '/models/qwen'
    >>> resolve_location("runs/r/round-001", "/nowhere/h")
    '/nowhere/h/runs/r/round-001'
    """
    given = Path(stored)
    if given.is_absolute():
        return str(given)
    under_home = Path(os.path.abspath(home)) / given
    if under_home.exists() or not given.exists():
        return str(under_home)
    return os.path.abspath(given)


def umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def readable_folder(folder: str | Path) -> None:
    """Give ``folder``, and everything in it, the mode ``open``/``mkdir`` give under the
    user's umask: folders ``0o777 & ~umask``, files ``0o666 & ~umask``."""
    mask = umask()
    for root, dirs, files in os.walk(folder):
        os.chmod(root, 0o777 & ~mask)
        for name in files:
            os.chmod(os.path.join(root, name), 0o666 & ~mask)
