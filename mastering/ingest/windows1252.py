"""Windows-1252 as browsers read it, so that every byte of a file that is not UTF-8 decodes.

Python's cp1252 leaves five bytes undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) and fails on them. The
WHATWG Encoding Standard, which every browser follows for "windows-1252" and "latin1", reads them
as the Latin-1 control characters of the same number; so does this codec, registered as NAME for
open(), pandas and Arrow alike.
"""

import codecs

NAME = "steward_windows_1252"
UNDEFINED_IN_CP1252 = b"\x81\x8d\x8f\x90\x9d"
DECODING_TABLE = "".join(chr(byte) if byte in UNDEFINED_IN_CP1252 else bytes([byte]).decode("cp1252")
                         for byte in range(256))
ENCODING_TABLE = codecs.charmap_build(DECODING_TABLE)


def _encode(text: str, errors: str = "strict") -> tuple[bytes, int]:
    return codecs.charmap_encode(text, errors, ENCODING_TABLE)


def _decode(data: bytes, errors: str = "strict") -> tuple[str, int]:
    return codecs.charmap_decode(data, errors, DECODING_TABLE)


class IncrementalEncoder(codecs.IncrementalEncoder):
    def encode(self, text: str, final: bool = False) -> bytes:
        return _encode(text, self.errors)[0]


class IncrementalDecoder(codecs.IncrementalDecoder):
    def decode(self, data: bytes, final: bool = False) -> str:  # one byte, one character: nothing is ever pending
        return _decode(data, self.errors)[0]


class StreamWriter(codecs.StreamWriter):
    encode = staticmethod(_encode)


class StreamReader(codecs.StreamReader):
    decode = staticmethod(_decode)


CODEC = codecs.CodecInfo(name=NAME, encode=_encode, decode=_decode, incrementalencoder=IncrementalEncoder,
                         incrementaldecoder=IncrementalDecoder, streamreader=StreamReader, streamwriter=StreamWriter)


def _search(name: str) -> codecs.CodecInfo | None:
    return CODEC if name == NAME else None


codecs.register(_search)
