"""Read a PyTorch checkpoint's tensors as numpy arrays, without torch.

Resemblyzer's `pretrained.pt` is in torch's legacy serialization (before torch 1.6):
four pickles in a row (a magic number, the protocol version, system info, then the
object itself, whose tensors refer to storages by key), a fifth pickle listing the
storage keys in file order, then each storage's raw bytes after an int64 element count.

The unpickler is restricted: it builds nothing but dicts, OrderedDicts, numbers,
strings and tensors, so a tampered file cannot run code (pickle's usual danger).
Zip checkpoints (torch >= 1.6: `archive/data.pkl` + `archive/data/<key>`) are read too.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class CheckpointError(ValueError):
    """The file is not a checkpoint this reader understands."""


@dataclass(frozen=True)
class _StorageType:
    dtype: Any


@dataclass
class _Storage:
    key: str
    dtype: Any
    numel: int
    data: np.ndarray | None = None


@dataclass
class _Tensor:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def array(self) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise CheckpointError(f"storage {self.storage.key} has no data")
        if not self.shape:
            return np.array(data[self.offset])
        itemsize = data.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :],
            shape=self.shape,
            strides=tuple(s * itemsize for s in self.stride),
            writeable=False,
        )
        return np.ascontiguousarray(view)


def _rebuild_tensor(
    storage: _Storage, offset: int, shape: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> _Tensor:
    return _Tensor(storage, int(offset), tuple(shape), tuple(stride))


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self._storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) in (
            ("torch._utils", "_rebuild_tensor_v2"),
            ("torch._utils", "_rebuild_tensor"),
        ):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return _StorageType(_DTYPES[name])
        raise CheckpointError(f"the checkpoint refers to {module}.{name}, which is not allowed")

    def persistent_load(self, pid: Any) -> Any:
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise CheckpointError(f"unexpected persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise CheckpointError(f"unexpected storage type {storage_type!r}")
        key = str(key)
        if key not in self._storages:
            self._storages[key] = _Storage(key, storage_type.dtype, int(numel))
        return self._storages[key]


def load_tensors(path: Path) -> dict[str, Any]:
    """The checkpoint's object with every tensor as a numpy array (dicts stay dicts)."""
    raw = path.read_bytes()
    if zipfile.is_zipfile(io.BytesIO(raw)):
        return _load_zip(raw)
    return _load_legacy(raw)


def _load_legacy(raw: bytes) -> dict[str, Any]:
    stream = io.BytesIO(raw)
    plain = _Unpickler(stream, {})
    try:
        magic = plain.load()
        protocol = plain.load()
        plain.load()  # system info: endianness and type sizes
    except (pickle.UnpicklingError, EOFError) as error:
        raise CheckpointError(f"not a torch checkpoint: {error}") from error
    if magic != LEGACY_MAGIC or protocol != LEGACY_PROTOCOL:
        raise CheckpointError("not a legacy torch checkpoint (magic number or protocol)")
    storages: dict[str, _Storage] = {}
    result = _Unpickler(stream, storages).load()
    keys = _Unpickler(stream, storages).load()
    for key in keys:
        storage = storages[str(key)]
        (count,) = struct.unpack("<q", stream.read(8))
        if count != storage.numel:
            raise CheckpointError(f"storage {key}: {count} elements, expected {storage.numel}")
        size = count * np.dtype(storage.dtype).itemsize
        storage.data = np.frombuffer(stream.read(size), dtype=storage.dtype, count=count)
    materialised: dict[str, Any] = _materialise(result)
    return materialised


def _load_zip(raw: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        names = archive.namelist()
        pickled = next((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None)
        if pickled is None:
            raise CheckpointError("a zip without data.pkl is not a torch checkpoint")
        root = pickled[: -len("data.pkl")]
        storages: dict[str, _Storage] = {}
        result = _Unpickler(io.BytesIO(archive.read(pickled)), storages).load()
        for key, storage in storages.items():
            data = archive.read(f"{root}data/{key}")
            storage.data = np.frombuffer(data, dtype=storage.dtype, count=storage.numel)
    materialised: dict[str, Any] = _materialise(result)
    return materialised


def _materialise(value: Any) -> Any:
    if isinstance(value, _Tensor):
        return value.array()
    if isinstance(value, dict):
        return type(value)((k, _materialise(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return type(value)(_materialise(v) for v in value)
    return value
