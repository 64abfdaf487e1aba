/* Case mapping for StringNormalizer. Only letters whose upper and lower
 * forms have the same UTF-8 length are mapped (so output length = input
 * length and no allocation is needed per element): ASCII, Latin-1,
 * Latin Extended-A, Greek and Cyrillic. Letters such as U+00DF (sharp s,
 * upper-cases to "SS") or dotless i are left as they are. */
#include <stdint.h>

#include "ops/string_internal.h"

static uint32_t cp_lower(uint32_t c) {
    if ((c >= 0xC0 && c <= 0xDE && c != 0xD7)) return c + 0x20;
    if (c == 0x178) return 0xFF;
    if ((c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
        return (c % 2 == 0) ? c + 1 : c;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c % 2 == 1) ? c + 1 : c;
    if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 0x20;
    if (c == 0x386) return 0x3AC;
    if (c >= 0x388 && c <= 0x38A) return c + 0x25;
    if (c == 0x38C) return 0x3CC;
    if (c == 0x38E || c == 0x38F) return c + 0x3F;
    if (c >= 0x410 && c <= 0x42F) return c + 0x20;
    if (c >= 0x400 && c <= 0x40F) return c + 0x50;
    if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x52F))
        return (c % 2 == 0) ? c + 1 : c;
    if (c >= 0x4C1 && c <= 0x4CE) return (c % 2 == 1) ? c + 1 : c;
    if (c == 0x4C0) return 0x4CF;
    return c;
}

static uint32_t cp_upper(uint32_t c) {
    if ((c >= 0xE0 && c <= 0xFE && c != 0xF7)) return c - 0x20;
    if (c == 0xFF) return 0x178;
    if ((c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
        return (c % 2 == 1) ? c - 1 : c;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c % 2 == 0) ? c - 1 : c;
    if (c >= 0x3B1 && c <= 0x3CB && c != 0x3C2) return c - 0x20;
    if (c == 0x3C2) return 0x3A3; /* final sigma */
    if (c == 0x3AC) return 0x386;
    if (c >= 0x3AD && c <= 0x3AF) return c - 0x25;
    if (c == 0x3CC) return 0x38C;
    if (c == 0x3CD || c == 0x3CE) return c - 0x3F;
    if (c >= 0x430 && c <= 0x44F) return c - 0x20;
    if (c >= 0x450 && c <= 0x45F) return c - 0x50;
    if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x52F))
        return (c % 2 == 1) ? c - 1 : c;
    if (c >= 0x4C1 && c <= 0x4CE) return (c % 2 == 0) ? c - 1 : c;
    if (c == 0x4CF) return 0x4C0;
    return c;
}

void ml_utf8_change_case(const char *src, size_t len, char *dst, int upper) {
    const unsigned char *s = (const unsigned char *)src;
    unsigned char *d = (unsigned char *)dst;
    size_t i = 0;
    while (i < len) {
        unsigned char b = s[i];
        if (b < 0x80) {
            if (upper)
                d[i] = (b >= 'a' && b <= 'z') ? (unsigned char)(b - 32) : b;
            else
                d[i] = (b >= 'A' && b <= 'Z') ? (unsigned char)(b + 32) : b;
            i++;
            continue;
        }
        /* Two-byte sequences cover every mapped letter; anything else
         * (longer sequences, invalid bytes) is copied verbatim. */
        if ((b & 0xE0) == 0xC0 && i + 1 < len && (s[i + 1] & 0xC0) == 0x80) {
            uint32_t c = ((uint32_t)(b & 0x1F) << 6) | (s[i + 1] & 0x3F);
            uint32_t m = upper ? cp_upper(c) : cp_lower(c);
            if (m < 0x80 || m > 0x7FF) m = c; /* keep the length */
            d[i] = (unsigned char)(0xC0 | (m >> 6));
            d[i + 1] = (unsigned char)(0x80 | (m & 0x3F));
            i += 2;
            continue;
        }
        d[i] = b;
        i++;
    }
}
