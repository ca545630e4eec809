"""The files of a model directory: reading JSON and safetensors with errors that name the file, the manifest
that ties the files of one model together, and replacing a directory in one step."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


class ModelFileError(ValueError):
    """A model directory with a missing, corrupt or inconsistent file."""


def read_json(path: Path) -> Any:
    if not path.is_file():
        raise ModelFileError(f"{path}: missing file")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ModelFileError(f"{path}: not valid JSON ({err})") from err


def load_tensors(path: Path) -> dict[str, Any]:
    """The tensors of a safetensors file (torch tensors)."""
    from safetensors.torch import load_file

    if not path.is_file():
        raise ModelFileError(f"{path}: missing file")
    try:
        return load_file(str(path))
    except Exception as err:  # noqa: BLE001 - safetensors raises several error types for bad files
        raise ModelFileError(f"{path}: not a valid safetensors file ({err})") from err


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def json_digest(obj: Any) -> str:
    """The sha256 of a JSON value in canonical form (sorted keys, no spaces)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def manifest(root: Path, *, exclude: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """Size and sha256 of every file under ``root`` (relative POSIX paths), but those named in ``exclude``."""
    out = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel not in exclude:
            out[rel] = {"size": path.stat().st_size, "sha256": sha256_file(path)}
    return out


def check_manifest(root: Path, files: Any) -> None:
    """Raise ModelFileError, naming the file, unless every file of the manifest is there, byte for byte."""
    if not isinstance(files, dict):
        raise ModelFileError(f"{root}: the manifest in its config is not an object of files")
    for rel, want in sorted(files.items()):
        path = root / rel
        if not path.is_file():
            raise ModelFileError(f"{path}: missing file (the model was saved with it)")
        size = path.stat().st_size
        if not isinstance(want, dict) or size != want.get("size") or sha256_file(path) != want.get("sha256"):
            raise ModelFileError(f"{path}: not the file this model was saved with (its size or sha256 differs): a "
                                 "file from another model or a damaged copy; save or copy the whole model again")


def write_dir(path: str | Path, write: Callable[[Path], None], *, marker: str) -> Path:
    """Write a model directory in one step: ``write`` fills a new directory beside ``path``, which then takes
    its place (:func:`replace_dir`), so an interrupted save leaves the old model (or none), never a mix."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{final.name}.saving-", dir=final.parent))
    try:
        write(staged)
        replace_dir(staged, final, marker=marker)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return final


def replace_dir(staged: Path, path: Path, *, marker: str) -> None:
    """Put the directory ``staged`` in place of ``path`` with renames, never half-written.

    ``path`` may be missing, empty, or a directory of the same kind (holding ``marker``, e.g. a model's
    ``config.json``); anything else is refused rather than deleted.
    """
    if path.exists() and (not path.is_dir() or (any(path.iterdir()) and not (path / marker).is_file())):
        raise ModelFileError(f"{path}: exists and is not a model directory (no {marker}); refusing to replace it: "
                             "save to a new or empty directory")
    os.chmod(staged, 0o777 & ~_umask())  # mkdtemp made it private; a saved model is as readable as any dir
    old = path.with_name(f".{path.name}.old-{os.getpid()}")
    if path.exists():
        path.replace(old)
    staged.replace(path)
    shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
