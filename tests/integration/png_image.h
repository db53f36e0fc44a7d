// Reading the pixels of a PNG file, enough to check a browser's screenshot
// (8-bit RGB or RGBA, not interlaced: what Chromium writes). The zlib stream
// is inflated with Poco, which valved links already.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace valved::itest {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};

struct PngImage {
  int width = 0;
  int height = 0;
  std::vector<Rgb> pixels;  ///< row by row; alpha dropped
  std::string error;        ///< why it could not be read ("" when it could)

  /// How many different colours the image has.
  size_t Colours() const;
  /// How many pixels are within `tolerance` of `colour` in every channel.
  size_t PixelsNear(Rgb colour, int tolerance) const;
};

PngImage ReadPng(const std::filesystem::path& path);

}  // namespace valved::itest
