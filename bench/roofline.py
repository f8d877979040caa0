#!/usr/bin/env python3
"""The matcher's roofline on real encodings: what one pair costs and what bounds it.

    bench/roofline.py PPRL_BINARY [PEOPLE]

Makes the inputs bench/real_match.sh uses (pprl synth, city x schools, the example schema and the
clkhash-style one), then for each matcher backend this CPU runs (PPRL_FORCE_BACKEND=matcher=...):

  * instructions per pair and their mix (vector/scalar; ALU, loads, stores, branches), counted
    under valgrind --tool=callgrind --dump-instr=yes on the first 1,000 city rows against every
    school row, per instruction of the kernel (the functions of SliceCounter), classified from
    objdump; the early-exit depth (16-column groups per row and slice part: the count of the
    kernel's most executed block over its entries and parts) and the bytes of slice columns loaded
    per pair (16 columns of a part per group);
  * the kernel's own time, one thread, on all city x school rows (bench/match_million --files),
    and the cycles per pair it means at the clock measured here (a chain of dependent adds);
  * the bounds: dispatch (6 instructions per cycle on Zen 3), ALU (4 vector or 4 integer ALU
    instructions per cycle), memory operations (3 per cycle) and the L2-to-L1 fill (32 bytes per
    cycle), and where the measured time stands against the tightest of them.

valgrind does not run AVX-512 code, so that backend is left out where it is not the only one.
"""
import collections, os, re, subprocess, sys, tempfile, time

def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout

def parse_callgrind(path):
    names, counts = {}, collections.defaultdict(dict)
    fn, cur, line_no, inclusive = None, 0, 0, False
    def step(tok, prev):
        if tok.startswith('0x'): return int(tok, 16)
        if tok[0] in '+-': return prev + int(tok)
        return prev if tok == '*' else int(tok)
    for line in open(path):
        m = re.match(r'^(c?fn)=\((\d+)\)(?: (.*))?$', line.rstrip('\n'))
        if m:
            if m.group(3): names[m.group(2)] = m.group(3)
            if m.group(1) == 'fn': fn, inclusive = m.group(2), False
            continue
        if line.startswith('calls='):
            inclusive = True
            continue
        if not line or line[0] not in '0123456789+-*': continue
        t = line.split()
        if len(t) < 3: continue
        cur, line_no = step(t[0], cur), step(t[1], line_no)
        if inclusive:  # the cost of the call on the line before, not of this function's instruction
            inclusive = False
            continue
        counts[fn][cur] = counts[fn].get(cur, 0) + int(t[2])
    return names, counts

# 64-bit words of a slice column one kernel vector holds: a slice of 8 words is taken in 8 / words
# parts, each with its own early exit.
VECTOR_WORDS = {'generic': 8, 'popcnt': 8, 'avx2': 4, 'avx512': 8}

def kernel_profile(out, binary, pairs, words):
    names, counts = parse_callgrind(out)
    kernel = [k for k, v in names.items() if 'SliceCounter<' in v and k in counts]
    inner = [k for k in kernel if 'accumulate<' in names[k]] or [k for k in kernel if 'row_against_slice<' in names[k]]
    calls = groups = 0
    for k in inner:
        c = counts[k]
        calls += c[min(c)]
        blocks = collections.Counter(c.values())
        groups += max(blocks.items(), key=lambda x: x[0] * x[1] if x[1] >= 20 else 0)[0]
    addresses = {}
    for k in kernel: addresses.update(counts[k])
    listing = run(['objdump', '-d', '--no-show-raw-insn', f'--start-address={min(addresses)}',
                   f'--stop-address={max(addresses) + 16}', binary])
    instructions = {}
    for line in listing.split('\n'):
        m = re.match(r'^\s+([0-9a-f]+):\s+(\S+)\s*(.*)$', line)
        if m: instructions[int(m.group(1), 16)] = (m.group(2), m.group(3))
    mix = collections.Counter()
    for address, count in addresses.items():
        op, args = instructions.get(address, ('?', ''))
        vector = any(r in args for r in ('%xmm', '%ymm', '%zmm'))
        if op.startswith('j') or op in ('call', 'ret'): kind = 'branch'
        elif '(' in args:
            kind = 'store' if '(' in args.split(',')[-1] and not op.startswith(('cmp', 'test')) else 'load'
            if kind == 'load' and not op.startswith(('mov', 'vmov')): kind = 'load+alu'
        else: kind = 'alu'
        mix[('vector ' if vector else 'scalar ') + kind] += count
    per = {k: v / pairs for k, v in mix.items()}
    parts = 8 // words
    return {'instructions': sum(per.values()), 'mix': per, 'groups_per_call': groups / calls / parts,
            'bytes': groups * 16 * words * 8 / pairs}

def clock_ghz(work):
    src = os.path.join(work, 'clock.c')
    with open(src, 'w') as f:
        f.write('#include <stdio.h>\n#include <time.h>\nint main(void){struct timespec a,b;unsigned long x=0,n=1000000000UL;'
                'clock_gettime(CLOCK_MONOTONIC,&a);for(unsigned long i=0;i<n;i++){__asm__ volatile("add $1, %0":"+r"(x));'
                '__asm__ volatile("add $1, %0":"+r"(x));}clock_gettime(CLOCK_MONOTONIC,&b);'
                'printf("%f\\n",2*n/((b.tv_sec-a.tv_sec)+(b.tv_nsec-a.tv_nsec)/1e9)/1e9+0*x);return 0;}\n')
    run(['cc', '-O2', '-o', os.path.join(work, 'clock'), src])
    return max(float(run([os.path.join(work, 'clock')])) for _ in range(3))

def main():
    pprl = os.path.realpath(sys.argv[1])
    people = sys.argv[2] if len(sys.argv) > 2 else '50000'
    root = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    million = os.path.join(os.path.dirname(pprl), 'bench', 'match_million')
    with tempfile.TemporaryDirectory() as work:
        os.chdir(work)
        run([pprl, 'synth', '--people', people, '--seed', '3', '--out-dir', 's'])
        run([pprl, 'keygen', '--out', 'k.key'])
        with open('s/city.csv') as f, open('s/city1k.csv', 'w') as g:
            for i, line in enumerate(f):
                if i > 1000: break
                g.write(line)
        for label, schema in (('example', 'youth_schema.json'), ('clkhash', 'clkhash_youth_schema.json')):
            for part in ('city', 'schools', 'city1k'):
                run([pprl, 'encode', '--schema', os.path.join(root, 'examples', schema), '--secret-file', 'k.key',
                     '--in', f's/{part}.csv', '--out', f'{label}-{part}.pprl', '--party', part.replace('1k', '')])
        schools = sum(1 for _ in open('s/schools.csv')) - 1
        ghz = clock_ghz(work)
        verbose = run([pprl, '--version', '--verbose'])
        backends = re.search(r'matcher: \w+ \(this CPU: ([a-z0-9 ]+);', verbose).group(1).split()
        print(f'roofline: {people} people, city x schools, clock {ghz:.2f} GHz; backends {" ".join(backends)}\n')
        print('| backend | encodings, t | instructions/pair (vector ALU, loads, stores) | columns read per row and slice '
              '| slice bytes/pair | cycles/pair measured | tightest bound (cycles/pair) | of the bound |')
        print('|---|---|---|---|---|---|---|---|')
        for backend in backends:
            if backend == 'avx512' and len(backends) > 1: continue
            env = dict(os.environ, PPRL_FORCE_BACKEND=f'matcher={backend}')
            for label, threshold in (('example', '0.65'), ('example', '0.8'), ('clkhash', '0.8')):
                out = f'{backend}-{label}-{threshold}.cg'
                subprocess.run(['valgrind', '--tool=callgrind', '--dump-instr=yes', f'--callgrind-out-file={out}',
                                million, '--files', f'{label}-city1k.pprl', f'{label}-schools.pprl', threshold, '1'],
                               check=True, capture_output=True, env=env)
                p = kernel_profile(out, million, 1000.0 * schools, VECTOR_WORDS[backend])
                timing = run([million, '--files', f'{label}-city.pprl', f'{label}-schools.pprl', threshold, '1'], env=env)
                rate = float(re.search(r'([0-9.]+) G comparisons/s', timing).group(1))
                popcount = float(re.search(r'mean popcount ([0-9.]+)', timing).group(1))
                cycles = ghz / rate
                mix = p['mix']
                get = lambda *keys: sum(v for k, v in mix.items() if any(k.endswith(x) for x in keys))
                alu_vector = sum(v for k, v in mix.items() if k.startswith('vector') and ('alu' in k))
                alu_scalar = sum(v for k, v in mix.items() if k.startswith('scalar') and ('alu' in k or 'branch' in k))
                memory = get('load', 'store', 'load+alu')
                bounds = {'dispatch': p['instructions'] / 6, 'vector ALU': alu_vector / 4,
                          'integer ALU': alu_scalar / 4, 'memory ops': memory / 3, 'L2 fill': p['bytes'] / 32}
                name, bound = max(bounds.items(), key=lambda x: x[1])
                print(f"| {backend} | {label}, {threshold} | {p['instructions']:.1f} ({alu_vector:.1f}, "
                      f"{get('load', 'load+alu'):.1f}, {get('store'):.1f}) | {16 * p['groups_per_call']:.0f} of "
                      f"{popcount:.0f} ({16 * p['groups_per_call'] / popcount:.0%}) | {p['bytes']:.1f} | {cycles:.2f} | "
                      f"{name} {bound:.2f} | {bound / cycles:.0%} |", flush=True)

main()
