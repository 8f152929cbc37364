# Every third-party library comes from Debian (scripts/install-deps.sh).
# They are gathered into one INTERFACE target, cs_deps, that the library links.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(JPEG REQUIRED)   # libjpeg62-turbo-dev
find_package(GIF REQUIRED)    # libgif-dev (no .pc in Debian 12)
pkg_check_modules(CS_PKG REQUIRED IMPORTED_TARGET
    jansson libutf8proc libpng zlib libwebp libwebpdemux libtiff-4 lcms2 sqlite3)
# Headers only: these three (and the ~35 libraries they pull in) are opened
# with dlopen on first use (src/core/lazylib.h), not at every program start.
pkg_check_modules(CS_LAZY REQUIRED libheif libcurl libmicrohttpd)

# FAISS: Debian ships only the static C++ library. It needs OpenMP and a
# BLAS/LAPACK (OpenBLAS). We reach it through our own extern "C" bridge.
find_library(FAISS_LIBRARY NAMES libfaiss.a faiss REQUIRED)
find_path(FAISS_INCLUDE_DIR faiss/IndexFlat.h REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(BLAS REQUIRED)
find_package(LAPACK REQUIRED)

add_library(cs_deps INTERFACE)
target_link_libraries(cs_deps INTERFACE
    PkgConfig::CS_PKG JPEG::JPEG GIF::GIF
    ${FAISS_LIBRARY} OpenMP::OpenMP_CXX
    Threads::Threads ${CMAKE_DL_LIBS} m)
# BLAS/LAPACK are opened on first use too (src/core/lazylib.h); bench_gemm,
# which calls cblas_sgemm itself, links them (bench/CMakeLists.txt).
target_include_directories(cs_deps INTERFACE ${FAISS_INCLUDE_DIR} ${CS_LAZY_INCLUDE_DIRS})
target_compile_options(cs_deps INTERFACE ${CS_LAZY_CFLAGS_OTHER})

# for clipsearch.pc
set(CS_PC_REQUIRES "jansson libutf8proc libjpeg libpng zlib libwebp libwebpdemux libtiff-4 lcms2 sqlite3")
# libclipsearch.a leaves BLAS/LAPACK to the program (src/core/lazy_blas.c)
set(CS_PC_LIBS_PRIVATE "-lgif -lfaiss -llapack -lblas -lgomp -lstdc++ -lpthread -ldl -lm")

# Open MPI's header, for its types only: libmpi is opened with dlopen when the
# program is launched by mpirun or srun (src/dist/comm.h). Without it, a
# launched program says it was built without MPI support.
pkg_check_modules(CS_MPI QUIET ompi-c)
if(CS_MPI_FOUND)
    set_source_files_properties("${PROJECT_SOURCE_DIR}/src/dist/comm.c" PROPERTIES
        COMPILE_DEFINITIONS CS_HAVE_MPI_H INCLUDE_DIRECTORIES "${CS_MPI_INCLUDE_DIRS}")
endif()
