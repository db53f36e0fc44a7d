#include "tests/integration/png_image.h"

#include <Poco/Exception.h>
#include <Poco/InflatingStream.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace valved::itest {
namespace {

uint32_t BigEndian(const std::string& bytes, size_t at) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(bytes[at + i])); };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

// The predictor of PNG's Paeth filter (RFC 2083, 6.6).
int Paeth(int left, int up, int up_left) {
  int p = left + up - up_left;
  int pa = std::abs(p - left), pb = std::abs(p - up), pc = std::abs(p - up_left);
  if (pa <= pb && pa <= pc) return left;
  return pb <= pc ? up : up_left;
}

// Undoes the per-row filters in place; `data` is what IDAT inflates to.
bool Unfilter(std::string& data, size_t row_bytes, int height, int channels) {
  if (data.size() < (row_bytes + 1) * static_cast<size_t>(height)) return false;
  std::string previous(row_bytes, '\0');
  for (int y = 0; y < height; ++y) {
    auto* row = reinterpret_cast<uint8_t*>(data.data() + y * (row_bytes + 1));
    uint8_t filter = row[0];
    uint8_t* px = row + 1;
    auto* up = reinterpret_cast<const uint8_t*>(previous.data());
    for (size_t i = 0; i < row_bytes; ++i) {
      int left = i >= static_cast<size_t>(channels) ? px[i - channels] : 0;
      int up_left = i >= static_cast<size_t>(channels) ? up[i - channels] : 0;
      int predicted = 0;
      switch (filter) {
        case 0:
          break;
        case 1:
          predicted = left;
          break;
        case 2:
          predicted = up[i];
          break;
        case 3:
          predicted = (left + up[i]) / 2;
          break;
        case 4:
          predicted = Paeth(left, up[i], up_left);
          break;
        default:
          return false;
      }
      px[i] = static_cast<uint8_t>(px[i] + predicted);
    }
    previous.assign(reinterpret_cast<char*>(px), row_bytes);
  }
  return true;
}

}  // namespace

size_t PngImage::Colours() const {
  std::set<uint32_t> seen;
  for (const Rgb& p : pixels) seen.insert(uint32_t{p.r} << 16 | uint32_t{p.g} << 8 | p.b);
  return seen.size();
}

size_t PngImage::PixelsNear(Rgb colour, int tolerance) const {
  size_t n = 0;
  for (const Rgb& p : pixels) {
    n += std::abs(p.r - colour.r) <= tolerance && std::abs(p.g - colour.g) <= tolerance &&
         std::abs(p.b - colour.b) <= tolerance;
  }
  return n;
}

PngImage ReadPng(const std::filesystem::path& path) {
  PngImage image;
  std::ifstream in(path, std::ios::binary);
  std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (file.size() < 8 || file.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) {
    image.error = path.string() + " is not a PNG file (" + std::to_string(file.size()) + " bytes)";
    return image;
  }
  std::string compressed;
  int depth = 0, colour_type = 0, interlace = 0;
  for (size_t at = 8; at + 12 <= file.size();) {
    uint32_t length = BigEndian(file, at);
    std::string type = file.substr(at + 4, 4);
    if (at + 12 + length > file.size()) break;
    if (type == "IHDR" && length >= 13) {
      image.width = static_cast<int>(BigEndian(file, at + 8));
      image.height = static_cast<int>(BigEndian(file, at + 12));
      depth = static_cast<uint8_t>(file[at + 16]);
      colour_type = static_cast<uint8_t>(file[at + 17]);
      interlace = static_cast<uint8_t>(file[at + 20]);
    } else if (type == "IDAT") {
      compressed.append(file, at + 8, length);
    }
    at += 12 + length;
  }
  int channels = colour_type == 2 ? 3 : colour_type == 6 ? 4 : 0;
  if (depth != 8 || channels == 0 || interlace != 0 || image.width <= 0 || image.height <= 0) {
    image.error = "unsupported PNG: bit depth " + std::to_string(depth) + ", colour type " +
                  std::to_string(colour_type) + ", interlace " + std::to_string(interlace);
    return image;
  }
  std::string data;
  try {
    std::istringstream zipped(compressed);
    Poco::InflatingInputStream inflate(zipped, Poco::InflatingStreamBuf::STREAM_ZLIB);
    data.assign(std::istreambuf_iterator<char>(inflate), std::istreambuf_iterator<char>());
  } catch (const Poco::Exception& e) {
    image.error = "cannot inflate the PNG image data: " + e.displayText();
    return image;
  }
  size_t row_bytes = static_cast<size_t>(image.width) * channels;
  if (!Unfilter(data, row_bytes, image.height, channels)) {
    image.error = "corrupt PNG image data (" + std::to_string(data.size()) + " bytes inflated)";
    return image;
  }
  image.pixels.reserve(static_cast<size_t>(image.width) * image.height);
  for (int y = 0; y < image.height; ++y) {
    const char* row = data.data() + y * (row_bytes + 1) + 1;
    for (int x = 0; x < image.width; ++x) {
      const char* p = row + x * channels;
      image.pixels.push_back(
          {static_cast<uint8_t>(p[0]), static_cast<uint8_t>(p[1]), static_cast<uint8_t>(p[2])});
    }
  }
  return image;
}

}  // namespace valved::itest
