// Progress of a pull or push on stderr, as podman shows it: on a terminal one
// bar per blob (bytes done, total, rate) redrawn in place at most ten times a
// second; elsewhere (logs, CI) one line when a blob starts and one when it
// ends; nothing with -q. Safe to call from the transfer threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::registry {

class TransferProgress {
public:
  enum class Mode { quiet, lines, bars };

  /// quiet when asked, bars when stderr is a terminal, lines otherwise.
  static Mode mode_for(bool quiet);
  explicit TransferProgress(Mode mode, std::FILE* out = stderr);

  /// Registers a transfer ("blob 1a2b3c4d5e6f") of total bytes (0: unknown); returns its slot.
  std::size_t add(std::string label, std::uint64_t total);
  /// The transfer started: a "Copying blob X" line (lines mode) or its bar.
  void start(std::size_t slot);
  /// Bytes done so far; redraws bars (throttled).
  void update(std::size_t slot, std::uint64_t done, std::uint64_t total);
  /// The transfer ended; note says how ("done", "skipped: already exists", "mounted").
  void finish(std::size_t slot, std::string_view note = "done");
  /// One free line ("Writing manifest to image destination").
  void message(std::string_view text);

private:
  struct Item {
    std::string label;
    std::uint64_t total = 0, done = 0;
    std::chrono::steady_clock::time_point started;
    bool active = false, finished = false;
    std::string note;
  };
  void redraw_locked(bool force);
  std::string bar_line(const Item& item) const;

  Mode mode_;
  std::FILE* out_;
  std::mutex mutex_;
  std::vector<Item> items_;
  std::size_t drawn_ = 0;  // bar lines currently on screen
  std::chrono::steady_clock::time_point last_draw_{};
};

/// "12.3MiB", "512B": a byte count in binary units as podman's bars show.
std::string human_bytes(std::uint64_t bytes);

}  // namespace kiln::registry
