// A KB on a read-only mount (a tmpfs remounted read-only, which stops root too) opens for reading
// through SQLite's immutable mode and reads its settings; every write says the KB is read-only.

#include <gtest/gtest.h>
#include <sys/mount.h>

#include <string>

#include "index/sqlite.hpp"
#include "index/store.hpp"
#include "ragline/error.hpp"
#include "support/test_support.hpp"

namespace ragline::index {
namespace {

using ragline::testing::TempDir;

// A tmpfs mounted at `dir` for the object's lifetime; remount_read_only() makes it read-only.
class TmpfsMount {
 public:
  explicit TmpfsMount(const std::filesystem::path& dir) : dir_(dir) {
    mounted_ = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=16m") == 0;
  }
  ~TmpfsMount() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  bool remount_read_only() { return ::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, "size=16m") == 0; }

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
};

TEST(ReadOnlyStore, AKbOnAReadOnlyMountOpensForReadingAndRefusesWrites) {
  TempDir dir;
  const auto mount_point = dir / "mnt";
  std::filesystem::create_directories(mount_point);
  TmpfsMount mount(mount_point);
  if (!mount.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (needs CAP_SYS_ADMIN)";
  const auto kb_dir = mount_point / "kb";
  std::string kb_id;
  {
    auto store = Store::open(kb_dir, true, std::nullopt, std::nullopt);
    EXPECT_FALSE(store.read_only());
    kb_id = store.kb_id();
    EXPECT_EQ(kb_id.size(), 32u);
    WriteTransaction transaction(store.database());
    store.write_setting("note", "written before the remount");
    store.bump_generation();
    transaction.commit();
  }
  ASSERT_FALSE(std::filesystem::exists(kb_dir / "kb.sqlite-wal"));
  ASSERT_TRUE(mount.remount_read_only());

  auto store = Store::open(kb_dir, false, std::nullopt, std::nullopt);
  EXPECT_TRUE(store.read_only());
  EXPECT_EQ(store.database().mode(), OpenMode::immutable);
  EXPECT_EQ(store.read_setting("note"), "written before the remount");
  EXPECT_EQ(store.kb_id(), kb_id);
  EXPECT_EQ(store.generation(), 1);
  EXPECT_EQ(store.stats().documents, 0);
  try {
    store.require_writable("ingest");
    ADD_FAILURE() << "require_writable passed on a read-only mount";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::io);
    EXPECT_NE(std::string(error.what()).find("is read-only: ingest needs write access"), std::string::npos)
        << error.what();
  }
  EXPECT_THROW(WriteTransaction transaction(store.database()), Error);
}

}  // namespace
}  // namespace ragline::index
