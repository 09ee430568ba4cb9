import { describe, expect, it } from "vitest";
import type { ModelChoice } from "../src/lib/api";
import { choiceLabel, photosToRead, switchCost } from "../src/lib/models";

function choice(extra: Partial<ModelChoice> = {}): ModelChoice {
  return {
    name: "ViT-B-16__openai",
    description: "OpenAI CLIP ViT-B/16 (English). More accurate than ViT-B/32, about 4x slower per image.",
    downloadBytes: null,
    present: false,
    inUse: false,
    photosRead: 0,
    ...extra,
  };
}

describe("choiceLabel", () => {
  it("titles a model by its description and says where it stands", () => {
    expect(choiceLabel(choice())).toEqual({ title: "OpenAI CLIP ViT-B/16 (English)", detail: "download" });
    expect(choiceLabel(choice({ downloadBytes: 600 * 1024 * 1024 })).detail).toBe("download, 600 MB");
    expect(choiceLabel(choice({ present: true })).detail).toBe("on this computer");
    expect(choiceLabel(choice({ present: true, inUse: true })).detail).toBe("in use");
  });
  it("names a model folder by its last part", () => {
    expect(choiceLabel(choice({ name: "/home/me/models/shape-clip", description: null, present: true }))).toEqual({
      title: "shape-clip",
      detail: "on this computer",
    });
  });
});

describe("switchCost", () => {
  it("says the download, the photos read again and what the window does meanwhile", () => {
    const said = switchCost(choice({ downloadBytes: 1536 * 1024 * 1024 }), 1200);
    expect(said[0]).toBe("Glimpse first downloads the model (1.5 GB); the window shows the download until it is done.");
    expect(said[1]).toBe("1,200 photos are read again with this model: about as long as the first indexing took on this computer.");
    expect(said).toContain("Meanwhile, search finds the photos read so far and more as indexing goes on.");
    expect(said[said.length - 1]).toBe("The current model's work is kept, so switching back later reads nothing again.");
  });
  it("counts the photos a model read before as kept, and asks no download of one on this computer", () => {
    const said = switchCost(choice({ present: true, photosRead: 1000 }), 1200);
    expect(said[0]).toBe(
      "200 photos are read again with this model: about as long as the first indexing took on this computer. 1,000 photos were read with it before and are kept.",
    );
    expect(said.join(" ")).not.toContain("download");
    expect(photosToRead(choice({ photosRead: 1300 }), 1200)).toBe(0);
  });
  it("says nothing is read again when the model read every photo before", () => {
    const said = switchCost(choice({ present: true, photosRead: 1 }), 1);
    expect(said[0]).toBe("Every photo was read with this model before, so nothing is read again. 1 photo was read with it before and is kept.");
    expect(said.join(" ")).not.toContain("Meanwhile");
  });
});
