/** The build context's `.dockerignore` filter: Docker's rules, and the files the build always needs. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dockerignoreFilter } from '../../src/activities/image/dockerignore';

/** The paths of `paths` the filter keeps in the context. */
function kept(text: string, paths: string[]): string[] {
  const ignored = dockerignoreFilter(text);
  return paths.filter((p) => !ignored(p));
}

describe('dockerignoreFilter', () => {
  it('keeps everything when the file is empty or only comments and blank lines', () => {
    const paths = ['Dockerfile', 'a.txt', 'dir/b.txt', '.git/HEAD'];
    assert.deepEqual(kept('', paths), paths);
    assert.deepEqual(kept('# nothing here\n\n   \n', paths), paths);
  });

  it('matches `*` and `?` within one path segment, anchored at the context root', () => {
    const paths = ['a.log', 'dir/a.log', 'foo', 'fooo', 'f/o'];
    assert.deepEqual(kept('*.log\nf?o', paths), ['dir/a.log', 'fooo', 'f/o']);
  });

  it('matches `**` across segments', () => {
    const paths = ['z.tmp', 'x/z.tmp', 'x/y/z.tmp', 'x/y/z.txt'];
    assert.deepEqual(kept('**/*.tmp', paths), ['x/y/z.txt']);
  });

  it('excludes everything in a folder that a pattern matches, with or without a trailing slash', () => {
    const paths = ['node_modules', 'node_modules/a/b.js', 'dist/app.js', 'src/dist/app.js', 'src/a.ts'];
    assert.deepEqual(kept('node_modules\ndist/', paths), ['src/dist/app.js', 'src/a.ts']);
  });

  it('cleans patterns like Go: leading `/` and `./`, `..`', () => {
    const paths = ['build/x', 'dist/a.js', 'b', 'a'];
    assert.deepEqual(kept('/dist\n./build\na/../b', paths), ['a']);
  });

  it('re-includes with `!`, the last matching pattern deciding', () => {
    const paths = ['server.js', 'model', 'model/weights.json', 'model/README.md', 'README.md', 'sub/server.js'];
    assert.deepEqual(kept('*\n!server.js\n!model/\nmodel/*.md', paths), ['server.js', 'model', 'model/weights.json']);
    assert.deepEqual(kept('!a.txt\n*.txt', ['a.txt', 'b.txt']), [], 'a later exclusion wins over an earlier `!`');
  });

  it('re-includes a file inside an excluded folder', () => {
    assert.deepEqual(kept('docs/**\n!docs/keep.md', ['docs/a/b.md', 'docs/keep.md', 'docs/other.md']), ['docs/keep.md']);
  });

  it('reads character classes and escapes', () => {
    const paths = ['a.txt', 'b.txt', 'c.txt', '#lit', 'lit'];
    assert.deepEqual(kept('[ab].txt\n\\#lit', paths), ['c.txt', 'lit']);
  });

  it('always keeps Dockerfile and .dockerignore at the root, as the Docker CLI sends them', () => {
    const paths = ['Dockerfile', '.dockerignore', 'sub/Dockerfile', 'server.js'];
    assert.deepEqual(kept('*\n**/Dockerfile\n.dockerignore', paths), ['Dockerfile', '.dockerignore']);
  });

  it('reads CRLF line endings', () => {
    assert.deepEqual(kept('*.log\r\n!keep.log\r\n', ['a.log', 'keep.log', 'a.txt']), ['keep.log', 'a.txt']);
  });
});
