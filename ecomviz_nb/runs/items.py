"""A batch's items: from a list of dicts, a CSV file or a pandas DataFrame, checked row by row.

A row names a product (``product_id``) or the pictures to create one from (``image_urls``,
several separated by ``|``), and optionally a ``label``. A bad row becomes an item that failed
with its reason (naming the line and the field); the good rows still run.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ValidationError
from ..models import CreateProductRequest, check_id

__all__ = ["MAX_COLUMNS", "ItemSpec", "read_items"]

MAX_COLUMNS = 50
"""A CSV row with more fields than this is refused (a runaway row, not a catalogue)."""
_COLUMNS = ("product_id", "image_urls", "label")


@dataclass
class ItemSpec:
    """One checked row: a product id or image URLs, a label, or the reason it was refused."""

    label: str
    product_id: str | None = None
    image_urls: list[str] = field(default_factory=list)
    error: str | None = None


def _split(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split("|") if part.strip()]
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value]
    return []


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value == ""


def _item(row: Mapping[str, Any], where: str, number: int) -> ItemSpec:
    label = row.get("label")
    label = f"item {number}" if _blank(label) else str(label).strip()[:200]
    product_id = row.get("product_id")
    urls = row.get("image_urls")
    try:
        if not _blank(product_id):
            return ItemSpec(label, product_id=check_id("product_id", str(product_id).strip()))
        if not _blank(urls):
            checked = CreateProductRequest(_split(urls)).image_urls
            return ItemSpec(label, image_urls=list(checked))
    except ValidationError as exc:
        return ItemSpec(label, error=f"{where}: {exc}")
    return ItemSpec(label, error=f"{where}: needs a product_id or image_urls (URLs split by |)")


def _from_csv(text: str) -> list[ItemSpec]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ValidationError("items", "(empty CSV)", "a header row, then a row per item") from None
    except csv.Error as exc:
        raise ValidationError("items", "(CSV header)", f"a readable CSV header ({exc})") from None
    if not {"product_id", "image_urls"} & set(header):
        raise ValidationError(
            "items", ",".join(header)[:200], "a CSV header with product_id or image_urls"
        )
    items: list[ItemSpec] = []
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # an over-long field, a stray quote
            line = reader.line_num
            items.append(ItemSpec(f"line {line}", error=f"line {line}: unreadable CSV ({exc})"))
            continue
        line = reader.line_num
        where = f"line {line}"
        if not cells or all(not c.strip() for c in cells):
            items.append(ItemSpec(where, error=f"{where}: empty line"))
        elif len(cells) > MAX_COLUMNS:
            items.append(
                ItemSpec(where, error=f"{where}: {len(cells)} fields; at most {MAX_COLUMNS}")
            )
        elif len(cells) > len(header):
            items.append(
                ItemSpec(
                    where,
                    error=f"{where}: {len(cells)} fields but the header has {len(header)}",
                )
            )
        else:
            row = dict(zip(header, cells, strict=False))
            items.append(_item(row, where, len(items) + 1))
    return items


def read_items(items: Any) -> list[ItemSpec]:
    """Checked items from a list of dicts, a CSV path (str or Path) or a pandas DataFrame.

    Raises:
        ValidationError: the source as a whole is unusable (no rows, no usable header, not a
            file); single bad rows are returned as items with an ``error`` instead.
    """
    if isinstance(items, (str, os.PathLike)):
        path = Path(items)
        if not path.is_file():
            raise ValidationError("items", str(items), "a CSV file, a list of dicts or a DataFrame")
        found = _from_csv(path.read_text(encoding="utf-8-sig"))
    elif hasattr(items, "to_dict") and hasattr(items, "columns"):  # a pandas DataFrame
        rows = items.to_dict("records")
        found = [_item(row, f"row {i + 1}", i + 1) for i, row in enumerate(rows)]
    elif isinstance(items, Iterable) and not isinstance(items, (bytes, Mapping)):
        found = []
        for i, row in enumerate(items):
            where = f"items[{i}]"
            if not isinstance(row, Mapping):
                found.append(
                    ItemSpec(where, error=f"{where}: a dict with product_id or image_urls")
                )
                continue
            extra = sorted(set(row) - set(_COLUMNS))
            if extra:
                found.append(
                    ItemSpec(
                        where,
                        error=f"{where}: unknown field {extra[0]!r}; use " + ", ".join(_COLUMNS),
                    )
                )
                continue
            found.append(_item(row, where, i + 1))
    else:
        raise ValidationError("items", items, "a CSV file, a list of dicts or a DataFrame")
    if not found:
        raise ValidationError(
            "items", items if not isinstance(items, list) else [], "at least one item"
        )
    return found
