import { describe, expect, it } from "vitest";
import { folderAddedNotice, pathInside } from "../src/lib/folders";

describe("pathInside", () => {
  it("names a file by where it is inside its folder", () => {
    expect(pathInside("/home/ann/Pictures", "/home/ann/Pictures/2023 Holiday/IMG_1.jpg")).toBe("2023 Holiday/IMG_1.jpg");
    expect(pathInside("/home/ann/Pictures/", "/home/ann/Pictures/a.jpg")).toBe("a.jpg");
    expect(pathInside("C:\\Photos", "C:\\Photos\\Garden\\x.png")).toBe("Garden\\x.png");
  });
  it("keeps the whole path outside the folder, or for a sibling with a longer name", () => {
    expect(pathInside("/home/ann/Pictures", "/home/ann/Pictures2/a.jpg")).toBe("/home/ann/Pictures2/a.jpg");
    expect(pathInside("/home/ann/Pictures", "/elsewhere/a.jpg")).toBe("/elsewhere/a.jpg");
  });
});

describe("folderAddedNotice", () => {
  it("says nothing for a folder added now", () => {
    expect(folderAddedNotice({ roots: [], folder: "/p", alreadyIn: null })).toBeNull();
  });
  it("says a folder is already there, and offers its photos when it is inside another", () => {
    expect(folderAddedNotice({ roots: [], folder: "/home/ann/Pictures", alreadyIn: "/home/ann/Pictures" })).toEqual({
      text: "“Pictures” is already in your library.",
      folder: null,
    });
    expect(
      folderAddedNotice({ roots: [], folder: "/home/ann/Pictures/Garden", alreadyIn: "/home/ann/Pictures" }),
    ).toEqual({
      text: "“Garden” is already in your library, inside “Pictures”: its photos are searchable.",
      folder: "/home/ann/Pictures/Garden",
    });
  });
});
