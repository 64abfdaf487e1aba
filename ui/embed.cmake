# Generates a C file embedding the UI assets (run at build time by ui/CMakeLists.txt).
#   cmake -DUI_DIR=... -DOUT=... -DFILES="a;b" -P embed.cmake
set(content "/* Generated from ui/ by ui/embed.cmake. Do not edit. */\n#include \"embed.h\"\n#include <string.h>\n\n")
set(table "")
set(i 0)
foreach(rel ${FILES})
  file(READ "${UI_DIR}/${rel}" hex HEX)
  file(SHA256 "${UI_DIR}/${rel}" sha)
  string(SUBSTRING "${sha}" 0 16 etag)
  string(LENGTH "${hex}" hexlen)
  math(EXPR len "${hexlen} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
  get_filename_component(ext "${rel}" EXT)
  if(ext STREQUAL ".html")
    set(type "text/html; charset=utf-8")
  elseif(ext STREQUAL ".js")
    set(type "text/javascript; charset=utf-8")
  elseif(ext STREQUAL ".css")
    set(type "text/css; charset=utf-8")
  elseif(ext STREQUAL ".svg")
    set(type "image/svg+xml")
  elseif(ext STREQUAL ".png")
    set(type "image/png")
  else()
    set(type "application/octet-stream")
  endif()
  string(APPEND content "static const unsigned char asset_${i}[] = {\n${bytes}0x00};\n")
  string(APPEND table "    {\"/${rel}\", \"${type}\", asset_${i}, ${len}, \"\\\"${etag}\\\"\"},\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND content "\nstatic const ml_ui_asset assets[] = {\n${table}};\n\n")
string(APPEND content [=[
const ml_ui_asset *ml_ui_find(const char *path) {
    if (!path || strcmp(path, "/") == 0 || path[0] == '\0') path = "/index.html";
    for (size_t i = 0; i < sizeof assets / sizeof assets[0]; i++)
        if (strcmp(assets[i].path, path) == 0) return &assets[i];
    return NULL;
}
]=])
file(WRITE "${OUT}.tmp" "${content}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
