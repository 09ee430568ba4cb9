import { describe, expect, it } from "vitest";
import { baseName, dirName, extensionOf, folderLabel, isImagePath, notAnImageMessage, pickImagePath } from "../src/lib/drop";

describe("folders", () => {
  it("finds a file's folder on every platform", () => {
    expect(dirName("/home/a/Pictures/2024/IMG_1.JPG")).toBe("/home/a/Pictures/2024");
    expect(dirName("C:\\Users\\a\\x.png")).toBe("C:\\Users\\a");
    expect(dirName("/x.png")).toBe("/");
    expect(dirName("x.png")).toBe("");
  });
  it("names a folder from the deepest root holding it", () => {
    const roots = ["/home/a/Pictures", "/home/a/Pictures/Phone", "/mnt/Photos/"];
    expect(folderLabel("/home/a/Pictures/2024/Trip", roots)).toBe("Pictures / 2024 / Trip");
    expect(folderLabel("/home/a/Pictures/Phone/DCIM", roots)).toBe("Phone / DCIM");
    expect(folderLabel("/mnt/Photos", roots)).toBe("Photos");
    expect(folderLabel("/home/a/PicturesOld/x", roots)).toBe("/home/a/PicturesOld/x");
    expect(folderLabel("D:\\Photos\\Trip", ["D:\\Photos"])).toBe("Photos / Trip");
  });
});

describe("drop", () => {
  it("reads names and extensions on every platform", () => {
    expect(baseName("/home/a/Pictures/IMG_1.JPG")).toBe("IMG_1.JPG");
    expect(baseName("C:\\Users\\a\\Photos\\x.png")).toBe("x.png");
    expect(baseName("/home/a/folder/")).toBe("folder");
    expect(extensionOf("/a/b/Photo.JPEG")).toBe("jpeg");
    expect(extensionOf("C:\\a.b\\noext")).toBe("");
    expect(extensionOf("/a/.jpg")).toBe("");
    expect(extensionOf("/a/archive.tar.gz")).toBe("gz");
  });
  it("accepts the image extensions only", () => {
    const all = ["jpg", "jpeg", "jfif", "png", "webp", "gif", "bmp", "tif", "tiff", "heic", "heif", "avif", "jxl"];
    for (const e of [...all, "cr2", "cr3", "nef", "arw", "dng", "raf", "orf", "rw2"]) {
      expect(isImagePath(`/x/p.${e.toUpperCase()}`)).toBe(true);
    }
    // The engine's own list, once it has answered, decides.
    expect(isImagePath("/x/p.heic", ["jpg", "dng"])).toBe(false);
    expect(isImagePath("/x/p.DNG", ["jpg", "dng"])).toBe(true);
    expect(isImagePath("/x/p.pdf")).toBe(false);
    expect(isImagePath("/x/jpg")).toBe(false);
    expect(isImagePath("/x/p.jpg.txt")).toBe(false);
  });
  it("picks the first picture", () => {
    expect(pickImagePath(["/a/notes.txt", "/a/b.heic", "/a/c.jpg"])).toBe("/a/b.heic");
    expect(pickImagePath(["/a/notes.txt", "/a/folder"])).toBeNull();
    expect(pickImagePath([])).toBeNull();
    expect(pickImagePath(undefined)).toBeNull();
  });
  it("says what went wrong", () => {
    expect(notAnImageMessage(["/a/notes.pdf"])).toMatch(/“notes\.pdf” is not a picture/);
    expect(notAnImageMessage(["/a/x.pdf", "/a/y.doc"])).toMatch(/None of the 2 dropped items/);
    expect(notAnImageMessage([])).toMatch(/Drop a photo \(JPEG, PNG, HEIC, camera RAW, WebP, …\)/);
    expect(notAnImageMessage(["/a/b.heic"], ["jpg", "png"])).toMatch(
      /“b\.heic” is a HEIC picture, which Glimpse cannot read on this computer\. Drop a photo \(JPEG, PNG, …\)/,
    );
  });
});
