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

export function CanvasDiagram({ nodes, edges, title }: { nodes: DiagramNode[]; edges: DiagramEdge[]; title?: string }) {
  if (nodes.length === 0) return <p className="empty">The diagram has no nodes.</p>;
  const xs = nodes.map((n) => n.position.x);
  const ys = nodes.map((n) => n.position.y);
  const minX = Math.min(...xs);
  const minY = Math.min(...ys);
  const width = Math.max(...xs) - minX + NODE_W + 2 * PAD;
  const height = Math.max(...ys) - minY + NODE_H + 2 * PAD;
  const at = new Map(nodes.map((n) => [n.id, { x: n.position.x - minX + PAD, y: n.position.y - minY + PAD }]));
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
        const [x1, y1, x2, y2] = [from.x + NODE_W / 2, from.y + NODE_H / 2, to.x + NODE_W / 2, to.y + NODE_H / 2];
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
      {nodes.map((node) => {
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
              fill={node.style?.color ?? "#e0e7ff"}
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
