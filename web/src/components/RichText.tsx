// Model-written text as paragraphs, bullet lists and headings; always as text nodes, never as HTML.

export function RichText({ text }: { text: string }) {
  const blocks = text.trim().split(/\n\s*\n/);
  return (
    <div class="rich">
      {blocks.map((block, i) => {
        const lines = block.split("\n").filter((l) => l.trim());
        if (lines.length > 0 && lines.every((l) => /^\s*([-*•]|\d+\.)\s+/.test(l))) {
          return (
            <ul key={i}>
              {lines.map((l, j) => (
                <li key={j}>{l.replace(/^\s*([-*•]|\d+\.)\s+/, "")}</li>
              ))}
            </ul>
          );
        }
        const heading = /^#{1,6}\s+(.*)$/.exec(lines[0] ?? "");
        if (heading && lines.length === 1) return <h5 key={i}>{heading[1]}</h5>;
        return <p key={i}>{lines.map((l, j) => (j === 0 ? l : [<br key={j} />, l]))}</p>;
      })}
    </div>
  );
}
