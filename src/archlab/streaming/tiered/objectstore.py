"""The object store closed ledgers are offloaded to (codex 7.2: "offloading old data to S3").

One interface, :class:`ObjectStore` (put, ranged get, delete, size, list), and two backends:
:class:`S3ObjectStore` speaks the S3 API through ``boto3`` to any S3-compatible endpoint (AWS,
MinIO, moto's server in the tests); :class:`LocalDirectoryStore` keeps objects as files under a
directory, the default, so the model runs with no server at all. Keys are ``/``-separated paths.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol


class ObjectNotFound(KeyError):
    pass


class ObjectStore(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``[start, end)`` of the object (to its end when ``end`` is None)."""
        ...

    def delete(self, key: str) -> None: ...

    def size(self, key: str) -> int: ...

    def keys(self, prefix: str = "") -> list[str]: ...


def total_bytes(store: ObjectStore, prefix: str = "") -> int:
    return sum(store.size(k) for k in store.keys(prefix))


class LocalDirectoryStore:
    """Objects as files under ``root`` (written to a temporary name, then renamed)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"object key {key!r} is not a plain /-separated path")
        return self.root.joinpath(*parts)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def get(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        try:
            with self._path(key).open("rb") as f:
                f.seek(start)
                return f.read() if end is None else f.read(max(0, end - start))
        except FileNotFoundError:
            raise ObjectNotFound(key) from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise ObjectNotFound(key) from None

    def keys(self, prefix: str = "") -> list[str]:
        found = (
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.endswith(".part")
        )
        return sorted(k for k in found if k.startswith(prefix))


class S3ObjectStore:
    """A bucket of an S3-compatible server through ``boto3`` (ranged GETs for entry reads)."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    @classmethod
    def connect(
        cls,
        endpoint_url: str,
        bucket: str,
        access_key: str = "testing",
        secret_key: str = "testing",
        region: str = "us-east-1",
        create: bool = True,
    ) -> S3ObjectStore:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
        )
        if create:
            client.create_bucket(Bucket=bucket)
        return cls(client, bucket)

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def get(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        byte_range = f"bytes={start}-" + ("" if end is None else str(end - 1))
        if end is not None and end <= start:
            return b""
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=key, Range=byte_range)
        except self.client.exceptions.NoSuchKey:
            raise ObjectNotFound(key) from None
        data: bytes = reply["Body"].read()
        return data

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def size(self, key: str) -> int:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.ClientError:
            raise ObjectNotFound(key) from None
        return int(head["ContentLength"])

    def keys(self, prefix: str = "") -> list[str]:
        out: list[str] = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        for page in pages:
            out.extend(str(item["Key"]) for item in page.get("Contents", []))
        return sorted(out)
