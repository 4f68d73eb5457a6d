// Transfer progress rendering (see progress.hpp). Bars are redrawn by moving the
// cursor up over the block of bar lines; free messages are printed above it.
#include "registry/progress.hpp"

#include <unistd.h>

#include <fmt/format.h>

namespace kiln::registry {

std::string human_bytes(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  if (unit == 0) return fmt::format("{}B", bytes);
  return fmt::format("{:.1f}{}", value, kUnits[unit]);
}

TransferProgress::Mode TransferProgress::mode_for(bool quiet) {
  if (quiet) return Mode::quiet;
  return ::isatty(STDERR_FILENO) ? Mode::bars : Mode::lines;
}

TransferProgress::TransferProgress(Mode mode, std::FILE* out) : mode_(mode), out_(out) {}

std::size_t TransferProgress::add(std::string label, std::uint64_t total) {
  std::lock_guard lock(mutex_);
  items_.push_back(Item{.label = std::move(label), .total = total});
  return items_.size() - 1;
}

void TransferProgress::start(std::size_t slot) {
  std::lock_guard lock(mutex_);
  Item& item = items_.at(slot);
  item.active = true;
  item.started = std::chrono::steady_clock::now();
  if (mode_ == Mode::lines) {
    fmt::print(out_, "Copying {}\n", item.label);
    std::fflush(out_);
  } else if (mode_ == Mode::bars) {
    redraw_locked(true);
  }
}

void TransferProgress::update(std::size_t slot, std::uint64_t done, std::uint64_t total) {
  if (mode_ != Mode::bars) return;
  std::lock_guard lock(mutex_);
  Item& item = items_.at(slot);
  item.done = done;
  if (total) item.total = total;
  redraw_locked(false);
}

void TransferProgress::finish(std::size_t slot, std::string_view note) {
  std::lock_guard lock(mutex_);
  Item& item = items_.at(slot);
  if (!item.active) item.started = std::chrono::steady_clock::now();
  item.active = true;
  item.finished = true;
  item.note = note;
  if (item.total) item.done = item.total;
  if (mode_ == Mode::lines) {
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - item.started).count();
    if (note == "done")
      fmt::print(out_, "Copied {} ({} in {:.1f}s)\n", item.label, human_bytes(item.done), seconds);
    else
      fmt::print(out_, "Copying {} {}\n", item.label, note);
    std::fflush(out_);
  } else if (mode_ == Mode::bars) {
    redraw_locked(true);
  }
}

void TransferProgress::message(std::string_view text) {
  std::lock_guard lock(mutex_);
  if (mode_ == Mode::quiet) return;
  if (mode_ == Mode::bars && drawn_) {
    // Print the message below the finished bars: the block starts again under it.
    redraw_locked(true);
    drawn_ = 0;
    items_.clear();
  }
  fmt::print(out_, "{}\n", text);
  std::fflush(out_);
}

std::string TransferProgress::bar_line(const Item& item) const {
  if (item.finished && item.note != "done") return fmt::format("Copying {} {}", item.label, item.note);
  constexpr int kWidth = 24;
  int filled = item.total ? static_cast<int>(kWidth * static_cast<double>(item.done) / static_cast<double>(item.total))
                          : 0;
  if (filled > kWidth) filled = kWidth;
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - item.started).count();
  std::string rate = seconds > 0.05 ? human_bytes(static_cast<std::uint64_t>(static_cast<double>(item.done) / seconds)) + "/s"
                                    : std::string("-");
  return fmt::format("Copying {} [{}{}] {} / {} {}{}", item.label, std::string(static_cast<std::size_t>(filled), '='),
                     std::string(static_cast<std::size_t>(kWidth - filled), ' '), human_bytes(item.done),
                     human_bytes(item.total), rate, item.finished ? " done" : "");
}

void TransferProgress::redraw_locked(bool force) {
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  std::string text;
  if (drawn_) text += fmt::format("\x1b[{}A", drawn_);
  std::size_t lines = 0;
  for (const Item& item : items_) {
    if (!item.active) continue;
    text += "\r\x1b[2K" + bar_line(item) + "\n";
    ++lines;
  }
  drawn_ = lines;
  std::fputs(text.c_str(), out_);
  std::fflush(out_);
}

}  // namespace kiln::registry
