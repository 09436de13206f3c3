export interface TestTool {
  command: string;
  apt: string;
  files: string[];
}
export declare const TEST_TOOLS: TestTool[];
export declare function missingTestTools(): TestTool[];
export declare function installCommand(missing: TestTool[]): string;
export declare function excludedForMissingTools(): { files: string[]; line: string | undefined };
