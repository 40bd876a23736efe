"""What an uploaded stream really is: Glance's format inspector, in small.

Glance refuses data whose format differs from the image's ``disk_format``
(``require_image_format_match``) and reports the virtual size it reads from
the format's header.
"""

from __future__ import annotations

import struct


def inspect_disk(data: bytes) -> tuple[str, int | None]:
    """The format ``data`` really has, and its virtual size when the format records one."""
    if data[:4] == b"QFI\xfb" and len(data) >= 32:
        return "qcow2", struct.unpack(">Q", data[24:32])[0]
    if data[:8] == b"vhdxfile":
        return "vhdx", None
    if len(data) >= 512 and (data[:8] == b"conectix" or data[-512:-504] == b"conectix"):
        footer = data[:512] if data[:8] == b"conectix" else data[-512:]
        return "vhd", struct.unpack(">Q", footer[48:56])[0]
    if data[:4] == b"KDMV" and len(data) >= 20:
        return "vmdk", struct.unpack("<Q", data[12:20])[0] * 512
    if len(data) >= 0x178 and data[0x40:0x44] == b"\x7f\x10\xda\xbe":
        return "vdi", struct.unpack("<Q", data[0x170:0x178])[0]
    if data[0x8001:0x8006] == b"CD001":
        blocks = struct.unpack("<I", data[0x8050:0x8054])[0]
        block_size = struct.unpack("<H", data[0x8080:0x8082])[0]
        return "iso", blocks * block_size
    return "raw", len(data) or None


# Formats Glance inspects (require_image_format_match): the data must be of that format.
INSPECTED_FORMATS = frozenset({"qcow2", "vhd", "vhdx", "vmdk", "vdi", "iso"})


__all__ = ["INSPECTED_FORMATS", "inspect_disk"]
