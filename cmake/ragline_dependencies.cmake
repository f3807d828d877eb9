# Finds ragline's third-party dependencies and defines an imported target for each.
# Shared by the build tree and by the installed package config, so an application that links
# the static ragline::ragline gets the same link line the project was built with.
include(CMakeFindDependencyMacro)

find_dependency(PkgConfig)
if(NOT TARGET PkgConfig::RAGLINE_ICU)
  pkg_check_modules(RAGLINE_ICU REQUIRED IMPORTED_TARGET GLOBAL icu-uc icu-i18n)
endif()
if(NOT TARGET PkgConfig::RAGLINE_POPPLER)
  pkg_check_modules(RAGLINE_POPPLER REQUIRED IMPORTED_TARGET GLOBAL poppler-cpp)
endif()
if(NOT TARGET PkgConfig::RAGLINE_OPENBLAS)
  # The local transformer runtime (models/local) calls cblas_sgemm and openblas_set_num_threads.
  pkg_check_modules(RAGLINE_OPENBLAS REQUIRED IMPORTED_TARGET GLOBAL openblas)
endif()
if(NOT TARGET PkgConfig::RAGLINE_GUMBO)
  pkg_check_modules(RAGLINE_GUMBO REQUIRED IMPORTED_TARGET GLOBAL gumbo)
endif()

find_dependency(SQLite3)
find_dependency(nlohmann_json 3)
find_dependency(OpenSSL)
find_dependency(Threads)
find_dependency(CURL)
# Ingest inflates gzip-compressed files (README.gz, changelog.gz).
find_dependency(ZLIB)
# Debian's FAISS config names OpenMP::OpenMP_CXX without finding it.
find_dependency(OpenMP)
find_dependency(faiss CONFIG)

if(NOT TARGET ragline_deps::stemmer)
  # Debian's libstemmer-dev ships neither a CMake config nor a pkg-config file.
  find_path(RAGLINE_STEMMER_INCLUDE_DIR libstemmer.h REQUIRED)
  find_library(RAGLINE_STEMMER_LIBRARY stemmer REQUIRED)
  add_library(ragline_deps::stemmer UNKNOWN IMPORTED GLOBAL)
  set_target_properties(ragline_deps::stemmer PROPERTIES
    IMPORTED_LOCATION "${RAGLINE_STEMMER_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${RAGLINE_STEMMER_INCLUDE_DIR}")
endif()
