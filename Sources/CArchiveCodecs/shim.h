// The system zlib and libbz2 (Debian's zlib1g-dev and libbz2-dev), for the object store's
// archive decompression (`?extract-archive=tar.gz|tar.bz2`).
#ifndef NIMBUS_ARCHIVE_CODECS_H
#define NIMBUS_ARCHIVE_CODECS_H

#include <zlib.h>
#include <bzlib.h>

// inflateInit2 and deflateInit2 are macros (they pass zlib's version and the size of z_stream),
// which Swift cannot call.
static inline int nimbus_inflateInit2(z_streamp stream, int windowBits) {
    return inflateInit2(stream, windowBits);
}

static inline int nimbus_deflateInit2(z_streamp stream, int level, int windowBits) {
    return deflateInit2(stream, level, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY);
}

#endif
