// A canvas job's result drawn as a diagram: nodes at their positions, edges as arrows with labels.

export interface DiagramNode {
  id: string;
  label: string;
  position: { x: number; y: number };
  style?: { color?: string | null; shape?: string | null };
}
export interface DiagramEdge {
  source: string;
  target: string;
  label?: string;
}

const NODE_W = 150;
const NODE_H = 48;
const PAD = 24;
const GAP = 60;

const PALETTES: Record<string, string[]> = {
  blue: ["#dbeafe", "#bfdbfe", "#e0e7ff", "#c7d2fe"],
  green: ["#dcfce7", "#bbf7d0", "#d1fae5", "#a7f3d0"],
  warm: ["#fef3c7", "#fde68a", "#ffedd5", "#fecaca"],
  grey: ["#f1f5f9", "#e2e8f0", "#f8fafc", "#cbd5e1"],
};

/** A colour the model wrote, if it is one a browser can paint. */
export function paintable(color: string | null | undefined): boolean {
  if (!color) return false;
  if (typeof CSS !== "undefined" && typeof CSS.supports === "function") return CSS.supports("color", color);
  return /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(color);
}

/** Where to draw each node: the model's positions, unless they collide; then a tidy grid in order. */
export function layout(nodes: DiagramNode[]): Map<string, { x: number; y: number }> {
  const distinct = new Set(nodes.map((n) => `${Math.round(n.position.x / 40)},${Math.round(n.position.y / 40)}`));
  if (distinct.size === nodes.length) {
    const minX = Math.min(...nodes.map((n) => n.position.x));
    const minY = Math.min(...nodes.map((n) => n.position.y));
    return new Map(nodes.map((n) => [n.id, { x: n.position.x - minX + PAD, y: n.position.y - minY + PAD }]));
  }
  const columns = Math.ceil(Math.sqrt(nodes.length));
  return new Map(
    nodes.map((n, i) => [
      n.id,
      { x: PAD + (i % columns) * (NODE_W + GAP), y: PAD + Math.floor(i / columns) * (NODE_H + GAP) },
    ]),
  );
}

/** The segment between two node centres, cut at the nodes' borders so the arrow head shows. */
function clip(x1: number, y1: number, x2: number, y2: number): [number, number, number, number] {
  const dx = x2 - x1;
  const dy = y2 - y1;
  if (dx === 0 && dy === 0) return [x1, y1, x2, y2];
  const t = Math.min(dx === 0 ? Infinity : NODE_W / 2 / Math.abs(dx), dy === 0 ? Infinity : NODE_H / 2 / Math.abs(dy));
  return [x1 + dx * t, y1 + dy * t, x2 - dx * t, y2 - dy * t];
}

export function CanvasDiagram({
  nodes,
  edges,
  title,
  colorScheme = "blue",
}: {
  nodes: DiagramNode[];
  edges: DiagramEdge[];
  title?: string;
  colorScheme?: string;
}) {
  if (nodes.length === 0) return <p className="empty">The diagram has no nodes.</p>;
  const at = layout(nodes);
  const points = [...at.values()];
  const width = Math.max(...points.map((p) => p.x)) + NODE_W + PAD;
  const height = Math.max(...points.map((p) => p.y)) + NODE_H + PAD;
  const palette = PALETTES[colorScheme] ?? PALETTES.blue;
  return (
    <svg
      className="diagram"
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={title ?? `Diagram with ${nodes.length} nodes and ${edges.length} connections`}
      data-testid="canvas-diagram"
    >
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M 0 0 L 10 5 L 0 10 z" fill="#64748b" />
        </marker>
      </defs>
      {edges.map((edge, index) => {
        const from = at.get(edge.source);
        const to = at.get(edge.target);
        if (!from || !to) return null;
        const [x1, y1, x2, y2] = clip(from.x + NODE_W / 2, from.y + NODE_H / 2, to.x + NODE_W / 2, to.y + NODE_H / 2);
        return (
          <g key={`${edge.source}-${edge.target}-${index}`}>
            <line x1={x1} y1={y1} x2={x2} y2={y2} stroke="#64748b" strokeWidth={1.5} markerEnd="url(#arrow)" />
            {edge.label && (
              <text x={(x1 + x2) / 2} y={(y1 + y2) / 2 - 4} className="edge-label" textAnchor="middle">
                {edge.label}
              </text>
            )}
          </g>
        );
      })}
      {nodes.map((node, index) => {
        const { x, y } = at.get(node.id)!;
        const round = node.style?.shape === "ellipse" || node.style?.shape === "circle";
        return (
          <g key={node.id} data-node={node.id}>
            <rect
              x={x}
              y={y}
              width={NODE_W}
              height={NODE_H}
              rx={round ? NODE_H / 2 : 8}
              fill={paintable(node.style?.color) ? node.style!.color! : palette[index % palette.length]}
              fillOpacity={0.9}
              stroke="#334155"
            />
            <text x={x + NODE_W / 2} y={y + NODE_H / 2 + 4} textAnchor="middle" className="node-label">
              {node.label.length > 22 ? `${node.label.slice(0, 21)}…` : node.label}
              <title>{node.label}</title>
            </text>
          </g>
        );
      })}
    </svg>
  );
}
