// libpng's simplified read API (png_image_begin_read_from_memory, png_image_finish_read; Debian: libpng-dev,
// found through pkg-config "libpng").
#include <png.h>
