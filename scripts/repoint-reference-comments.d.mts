/** Types of scripts/repoint-reference-comments.mjs, for the unit test that imports it. */
export declare const ROOT: string;
export declare const DOC: string;
export interface Section {
  readonly anchor: string;
  readonly title: string;
}
export declare function githubSlug(text: string): string;
export declare function anchorsOf(markdown: string): string[];
export declare function sectionsOf(markdown: string): Map<string, Section>;
export declare function repointText(text: string, file: string, sections: Map<string, Section>): string;
export declare function remainingCitations(text: string): { line: number; text: string }[];
export declare function citedAnchors(text: string): { line: number; anchor: string }[];
export declare function searchedFiles(root?: string): string[];
