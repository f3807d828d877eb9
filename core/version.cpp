#include "ragline/version.hpp"

namespace ragline {

const char* version() noexcept { return RAGLINE_VERSION_STRING; }

}  // namespace ragline
