# fhirlake - top-level entry points. Everything real lives in CMake (CMakeLists.txt);
# this file only names the common jobs. See README.md.
#   make demo   install what is missing, build, run the demo
#   make test   install what is missing, build with ASan+UBSan, run every test
.PHONY: all deps build test demo bench fuzz clean check-src pyenv

JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
WERROR  ?= $(if $(CI),ON,OFF)
BUILD   ?= build/release
TBUILD  ?= build/test

all: build

deps:
	@bash tools/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DFL_BUILD_FUZZ=OFF -DFL_WERROR=$(WERROR) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

pyenv: deps
	@bash tools/pyenv.sh

check-src:
	@bash tools/checksrc.sh
	@bash tools/layers.sh

test: deps check-src pyenv
	@cmake -S . -B $(TBUILD) -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DFL_SANITIZE=address,undefined -DFL_BUILD_FUZZ=ON -DFL_WERROR=$(WERROR) >/dev/null
	@cmake --build $(TBUILD) -j $(JOBS)
	@cd $(TBUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

demo: build
	@bash tools/demo.sh $(BUILD)/fhirlake

bench: build pyenv
	@bash bench/run_all.sh $(BUILD)

fuzz: deps
	@cmake -S . -B build/fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DFL_SANITIZE=address,undefined -DFL_BUILD_FUZZ=ON -DFL_BUILD_TESTS=OFF >/dev/null
	@cmake --build build/fuzz -j $(JOBS)
	@cd build/fuzz && FL_FUZZ_SECONDS=$${FL_FUZZ_SECONDS:-120} ctest --output-on-failure -L fuzz

clean:
	rm -rf build
