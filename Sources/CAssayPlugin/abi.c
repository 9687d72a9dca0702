// The CAssayPlugin target is its header (include/assay_plugin.h); SwiftPM needs one C file to build it, and this
// one checks that the header compiles on its own.
#include "assay_plugin.h"

_Static_assert(ASSAY_PLUGIN_ABI_VERSION == 2u, "this Assay speaks plugin ABI version 2");
