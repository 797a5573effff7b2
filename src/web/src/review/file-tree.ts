/** A changed file as the tree needs it: its index in the diff's files, for the jump. */
export interface TreeFileInput {
  path: string;
  added: number | null;
  removed: number | null;
}

export interface TreeFile {
  kind: 'file';
  name: string;
  index: number;
  added: number | null;
  removed: number | null;
}

export interface TreeFolder {
  kind: 'folder';
  /** One or more path segments: a folder holding only one folder is shown as one (`src/web`). */
  name: string;
  /** Its full path: the key of its open or closed state. */
  path: string;
  children: TreeNode[];
  added: number;
  removed: number;
}

export type TreeNode = TreeFile | TreeFolder;

/** The files in folders, each folder with the sum of its files' counts; folders first, then files, each by name. */
export function fileTree(files: readonly TreeFileInput[]): TreeFolder {
  const root: TreeFolder = { kind: 'folder', name: '', path: '', children: [], added: 0, removed: 0 };
  files.forEach((f, index) => {
    const parts = f.path.split('/');
    const name = parts.pop()!;
    let folder = root;
    let at = '';
    for (const part of parts) {
      at = at ? `${at}/${part}` : part;
      let next = folder.children.find((c): c is TreeFolder => c.kind === 'folder' && c.path === at);
      if (!next) {
        next = { kind: 'folder', name: part, path: at, children: [], added: 0, removed: 0 };
        folder.children.push(next);
      }
      folder = next;
    }
    folder.children.push({ kind: 'file', name, index, added: f.added, removed: f.removed });
  });
  finish(root);
  return root;
}

function finish(folder: TreeFolder): void {
  for (const child of folder.children) {
    if (child.kind === 'folder') {
      finish(child);
      // A chain of single folders reads as one path.
      for (;;) {
        const only = child.children.length === 1 ? child.children[0] : undefined;
        if (only?.kind !== 'folder') break;
        child.name = `${child.name}/${only.name}`;
        child.path = only.path;
        child.children = only.children;
      }
    }
    folder.added += child.added ?? 0;
    folder.removed += child.removed ?? 0;
  }
  folder.children.sort((a, b) => (a.kind === b.kind ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.kind === 'folder' ? -1 : 1));
}

/** The files' indexes in the order the tree shows them: the order j and k move in. */
export function treeOrder(folder: TreeFolder, out: number[] = []): number[] {
  for (const child of folder.children) {
    if (child.kind === 'file') out.push(child.index);
    else treeOrder(child, out);
  }
  return out;
}
