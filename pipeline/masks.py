"""Secret values kept out of a build's log: masked as its output arrives, in whatever pieces, on
whichever host runs it."""
import base64
import codecs
import json
from urllib.parse import quote, quote_plus

# Shorter values cannot be masked without masking ordinary text ("a", "on", "123").
MIN_VALUE_LENGTH = 4
MASK = "***"


def encodings(value):
    """The value and the forms a build is likely to print it in: base64 (standard and URL-safe,
    padded or not), percent-encoded and JSON-escaped."""
    raw = value.encode("utf-8", "surrogatepass")
    forms = {value, quote(value, safe=""), quote_plus(value, safe=""), json.dumps(value)[1:-1],
             json.dumps(value, ensure_ascii=False)[1:-1]}
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        encoded = encode(raw).decode()
        forms.update((encoded, encoded.rstrip("=")))
    return forms


class SecretMask:
    """Replaces secret values in text that arrives in pieces, including values split across pieces.

    Only a tail that could still become a secret is held back, so output
    without secrets is never delayed.
    """

    def __init__(self, values):
        parts = set()
        for value in values:
            parts.update(encodings(value))
            # A multi-line secret printed line by line is masked line by line.
            parts.update(line for line in value.splitlines() if len(line) >= MIN_VALUE_LENGTH)
        self.values = sorted((v for v in parts if v), key=len, reverse=True)
        self.carry = ""

    def fresh(self):
        """A mask of the same values for another stream of text (a step's own log, say)."""
        other = SecretMask(())
        other.values = self.values
        return other

    def feed(self, text):
        """Return the masked text that is safe to show now."""
        if not self.values:
            return text
        text = self.carry + text
        for value in self.values:
            text = text.replace(value, MASK)
        longest = len(self.values[0])
        for keep in range(min(longest - 1, len(text)), 0, -1):
            tail = text[-keep:]
            if any(value.startswith(tail) for value in self.values):
                self.carry = tail
                return text[:-keep]
        self.carry = ""
        return text

    def flush(self):
        """Return what was held back, once no more text will come."""
        text, self.carry = self.carry, ""
        return text

    def of_bytes(self):
        """A fresh mask of the same values for a stream of raw bytes (ByteMask)."""
        return ByteMask(self.fresh())

    def mask(self, text):
        """Mask a whole text at once (an error message, say)."""
        if text is None:
            return None
        for value in self.values:
            text = text.replace(value, MASK)
        return text


class ByteMask:
    """A SecretMask over raw output, for a step's stream masked before it is cut into lines and
    set among other steps' lines, where a value split in two would pass unmasked. Bytes that are
    not UTF-8 pass through as they came."""

    def __init__(self, mask):
        self.mask = mask
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")

    def feed(self, raw):
        return self.mask.feed(self.decoder.decode(raw)).encode("utf-8", "surrogateescape")

    def flush(self):
        tail = self.mask.feed(self.decoder.decode(b"", final=True)) + self.mask.flush()
        return tail.encode("utf-8", "surrogateescape")
