import { render } from "@testing-library/react";
import { CanvasDiagram, layout, paintable, type DiagramNode } from "./CanvasDiagram";

const node = (id: string, x: number, y: number, color?: string): DiagramNode => ({
  id,
  label: id.toUpperCase(),
  position: { x, y },
  style: { color },
});

describe("CanvasDiagram", () => {
  test("uses the model's positions when they are distinct", () => {
    const at = layout([node("a", 100, 100), node("b", 400, 100)]);
    expect(at.get("a")).toEqual({ x: 24, y: 24 });
    expect(at.get("b")).toEqual({ x: 324, y: 24 });
  });

  test("lays colliding nodes out in a grid, in order", () => {
    const at = layout([node("a", 0, 0), node("b", 0, 0), node("c", 0, 0), node("d", 0, 0)]);
    expect(new Set([...at.values()].map((p) => `${p.x},${p.y}`)).size).toBe(4);
  });

  test("paints only real colours; others fall back to the scheme", () => {
    expect(paintable("#ff0000")).toBe(true);
    expect(paintable("small")).toBe(false);
    const { container } = render(
      <CanvasDiagram nodes={[node("a", 0, 0, "small"), node("b", 300, 0, "#ff0000")]} edges={[{ source: "a", target: "b", label: "next" }]} />,
    );
    const fills = [...container.querySelectorAll("rect")].map((rect) => rect.getAttribute("fill"));
    expect(fills).toEqual(["#dbeafe", "#ff0000"]);
    expect(container.querySelector("line")).not.toBeNull();
    expect(container).toHaveTextContent("next");
  });
});
