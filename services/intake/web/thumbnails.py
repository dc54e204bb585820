"""A small picture of an uploaded photo, for the syarat's upload control on the resident's
application page: the resident sees what was sent (the right side of the KTP, not a blurred
one) without downloading a 5 MB photo on a weak connection."""

import io

from PIL import Image, ImageOps

# Twice the 160 CSS px the page shows, for sharp thumbnails on phone screens.
THUMBNAIL_PX = 320
QUALITY = 70


def thumbnail_jpeg(content: bytes, size: int = THUMBNAIL_PX) -> bytes:
    """A JPEG at most `size` px on its longer side, turned as the camera held it. `content`
    is a stored attachment: an image intake already checked and re-encoded at upload."""
    with Image.open(io.BytesIO(content)) as image:
        image.draft("RGB", (size, size))  # JPEG: decode at a fraction of full size
        upright = ImageOps.exif_transpose(image)
        small = upright.convert("RGB")
        small.thumbnail((size, size))
        out = io.BytesIO()
        small.save(out, "JPEG", quality=QUALITY, optimize=True)
        return out.getvalue()
