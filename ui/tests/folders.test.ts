import { describe, expect, it } from "vitest";
import { folderAddedNotice, folderOptions, pathInside, treeRows } from "../src/lib/folders";

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

describe("treeRows", () => {
  it("puts parents before children, by name with numbers in order, indented by depth", () => {
    const root = "/home/ann/Pictures";
    const rows = treeRows(root, [
      { path: `${root}/Trips/2023 Holiday`, photos: 4 },
      { path: `${root}/Garden`, photos: 2 },
      { path: `${root}/Trips`, photos: 9 },
      { path: `${root}/Trips/2023 Holiday/Day 10`, photos: 1 },
      { path: `${root}/Trips/2023 Holiday/Day 9`, photos: 1 },
    ]);
    expect(rows.map((r) => [r.name, r.depth, r.photos])).toEqual([
      ["Garden", 0, 2],
      ["Trips", 0, 9],
      ["2023 Holiday", 1, 4],
      ["Day 9", 2, 1],
      ["Day 10", 2, 1],
    ]);
  });
  it("ignores the root itself and folders outside it", () => {
    expect(treeRows("/r", [{ path: "/r", photos: 3 }, { path: "/elsewhere/x", photos: 1 }]).map((r) => r.path)).toEqual([]);
  });
});

describe("folderOptions", () => {
  const roots = [{ path: "/home/ann/Pictures" }, { path: "/media/disk/Scans" }];
  const tree = treeRows("/home/ann/Pictures", [
    { path: "/home/ann/Pictures/Garden", photos: 12 },
    { path: "/home/ann/Pictures/2023 Holiday", photos: 40 },
    { path: "/home/ann/Pictures/2023 Holiday/Beach", photos: 9 },
  ]);
  const pad = (n: number) => "\u00a0\u00a0\u00a0".repeat(n);

  it("offers each root, and its subfolders indented under it with their counts", () => {
    expect(folderOptions(roots, { "/home/ann/Pictures": tree }, null).map((o) => [o.value, o.label])).toEqual([
      ["/home/ann/Pictures", "Pictures"],
      ["/home/ann/Pictures/2023 Holiday", `${pad(1)}2023 Holiday (40)`],
      ["/home/ann/Pictures/2023 Holiday/Beach", `${pad(2)}Beach (9)`],
      ["/home/ann/Pictures/Garden", `${pad(1)}Garden (12)`],
      ["/media/disk/Scans", "Scans"],
    ]);
  });
  it("offers a chosen folder the trees do not hold yet, under its root", () => {
    const got = folderOptions(roots, {}, "/media/disk/Scans/1998/May");
    expect(got.map((o) => [o.value, o.label])).toEqual([
      ["/home/ann/Pictures", "Pictures"],
      ["/media/disk/Scans", "Scans"],
      ["/media/disk/Scans/1998/May", `${pad(1)}1998 / May`],
    ]);
    // Once the tree holds it, it is offered once, in its place.
    const scans = treeRows("/media/disk/Scans", [{ path: "/media/disk/Scans/1998/May", photos: 3 }]);
    const loaded = folderOptions(roots, { "/media/disk/Scans": scans }, "/media/disk/Scans/1998/May");
    expect(loaded.filter((o) => o.value === "/media/disk/Scans/1998/May")).toHaveLength(1);
  });
  it("offers a chosen root as itself, and a chosen folder outside every root at the end", () => {
    expect(folderOptions(roots, {}, "/home/ann/Pictures")).toHaveLength(2);
    expect(folderOptions(roots, {}, "/elsewhere")[2]).toEqual({ value: "/elsewhere", label: "/elsewhere", title: "/elsewhere" });
  });
});
