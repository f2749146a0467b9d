# shellcheck shell=bash
# Shared by the benchmarks of the 1000-cell matrix (bench/run.sh, bench/ci-matrix.sh):
# sourced from the repository root. Sets cudas and oses (10 each, as YAML list items);
# matrix_plugins DIR writes the knowledge plugins the matrix needs: eight synthetic OSes
# (debian20 .. debian27, apt, like Debian) and a base repository, bench/cuda, that has
# every (CUDA, OS, flavor) the matrix asks for. The real tables have only a few OSes per
# CUDA version.
# shellcheck disable=SC2034 # cudas and oses are for the caller
cudas='"11.8.0", "12.0.0", "12.0.1", "12.1.0", "12.1.1", "12.2.0", "12.2.2", "12.3.2", "12.4.0", "12.4.1"'
# shellcheck disable=SC2034
oses='"ubuntu20.04", "ubuntu22.04", "debian20", "debian21", "debian22", "debian23", "debian24", "debian25", "debian26", "debian27"'

matrix_plugins() {
	python3 - "$1" "$cudas" "$oses" <<'PY'
import json, sys
out, cudas, oses = sys.argv[1], json.loads("[" + sys.argv[2] + "]"), json.loads("[" + sys.argv[3] + "]")
systems = [{"name": f"debian{n}", "family": "debian", "package_manager": "apt",
            "python_default": "3.11", "pythons": ["3.11"], "python_bin": "/usr/bin/python{v}",
            "python_packages": {"builder": ["python{v}", "python{v}-venv"], "final": ["python{v}"]}}
           for n in range(20, 28)]
json.dump({"schema_version": 1, "notes": "bench: synthetic OSes", "systems": systems},
          open(f"{out}/os.json", "w"), indent=1)
flavors = ["base", "runtime", "devel"]
images = [{"version": v, "os": {o: flavors for o in oses}} for v in cudas]
json.dump({"schema_version": 1, "notes": "bench: synthetic base repository",
           "repositories": [{"repository": "bench/cuda", "tag_template": "{version}-{flavor}-{os}",
                             "images": images}]},
          open(f"{out}/bases.json", "w"), indent=1)
PY
}
