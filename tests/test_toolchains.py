"""The toolchain table and the project's version files, which pick the runtime image tags."""

from __future__ import annotations

from layerbot.analysis import dockerfile, project
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.image_ref import parse_image
from layerbot.analysis.model import RepoView
from layerbot.analysis.toolchains import (
    Toolchain,
    approximate_size_mb,
    image_workdir,
    java_version_of,
    suggested_runtime,
    toolchain_of,
)


def _context(files: dict[str, str]) -> DockerfileContext:
    doc = dockerfile.parse("FROM scratch\n")
    return DockerfileContext.for_file(doc, RepoView.from_files(files))


def test_project_versions_for_the_runtime_tags() -> None:
    pom = "<project><properties><maven.compiler.release>17</maven.compiler.release>"
    assert project.java_version(_context({"pom.xml": pom + "</properties></project>"})) == "17"
    legacy = "<project><properties><maven.compiler.target>1.8</maven.compiler.target>"
    assert project.java_version(_context({"pom.xml": legacy})) == "8"
    kts = "java { toolchain { languageVersion.set(JavaLanguageVersion.of(21)) } }"
    assert project.java_version(_context({"build.gradle.kts": kts})) == "21"
    groovy = "sourceCompatibility = JavaVersion.VERSION_11\n"
    assert project.java_version(_context({"build.gradle": groovy})) == "11"
    assert project.java_version(_context({})) is None
    csproj = "<Project><PropertyGroup><TargetFramework>net9.0</TargetFramework>"
    assert project.dotnet_version(csproj) == "9.0"
    assert project.dotnet_version("<TargetFramework>netcoreapp3.1</TargetFramework>") == "3.1"
    toml = '[toolchain]\nchannel = "1.81.0"\n'
    assert project.rust_version(_context({"rust-toolchain.toml": toml})) == "1.81"
    assert project.rust_version(_context({"rust-toolchain": "1.75\n"})) == "1.75"
    stable = '[toolchain]\nchannel = "stable"\n'
    assert project.rust_version(_context({"rust-toolchain.toml": stable})) is None


def test_toolchain_table_tells_sdk_images_from_runtime_images() -> None:
    image = parse_image
    assert toolchain_of(image("docker.io/library/golang:1.22")) is Toolchain.GO
    assert toolchain_of(image("mcr.microsoft.com/dotnet/sdk:8.0")) is Toolchain.DOTNET
    assert toolchain_of(image("mcr.microsoft.com/dotnet/aspnet:8.0")) is None
    assert toolchain_of(image("amazoncorretto:21")) is Toolchain.JDK
    assert toolchain_of(image("eclipse-temurin:21-jre-alpine")) is None
    assert toolchain_of(image("python:3.12")) is Toolchain.PYTHON
    assert toolchain_of(image("python:3.12-alpine")) is None
    assert java_version_of(image("maven:3.9.6-amazoncorretto-17")) == "17"
    assert java_version_of(image("gradle:8.7-jdk21-alpine")) == "21"
    assert java_version_of(image("openjdk:11-jdk-slim")) == "11"
    assert java_version_of(image("maven:latest")) is None
    full, slim = image("rust:1.79"), image("rust:1.79-slim")
    assert approximate_size_mb(full) is not None and approximate_size_mb(slim) is not None
    assert approximate_size_mb(full) > approximate_size_mb(slim)
    assert approximate_size_mb(image("example.com/unknown:1")) is None


def test_bun_and_elixir_images_are_toolchains_and_images_set_their_workdir() -> None:
    image = parse_image
    assert toolchain_of(image("oven/bun:1.2-alpine")) is Toolchain.BUN
    assert toolchain_of(
        image("hexpm/elixir:1.17.2-erlang-27.0.1-debian-bookworm-20240722-slim")
    ) is (Toolchain.ELIXIR)
    assert suggested_runtime(Toolchain.ELIXIR, image("elixir:1.17-alpine")) == "alpine:3.22"
    assert suggested_runtime(Toolchain.BUN, image("oven/bun:1.2")) == "oven/bun:1.2-slim"
    assert image_workdir(image("php:8.3-apache")) == "/var/www/html"
    assert image_workdir(image("php:8.3-fpm-alpine")) == "/var/www/html"
    assert image_workdir(image("php:8.3-cli")) == "/"
    assert image_workdir(image("golang:1.22")) == "/go"
    assert image_workdir(image("node:20")) == "/"


def test_sbt_clojure_haskell_and_dart_images_are_toolchains_with_a_runtime_to_suggest() -> None:
    image = parse_image
    assert toolchain_of(image("sbtscala/scala-sbt:eclipse-temurin-17.0.4_1.7.1_3.2.0")) is (
        Toolchain.SBT
    )
    assert java_version_of(image("hseeberger/scala-sbt:8u222_1.3.5_2.13.1")) == "8"
    assert java_version_of(image("sbtscala/scala-sbt:17.0.2_1.6.2_3.1.3")) == "17"
    assert toolchain_of(image("clojure:temurin-21-lein")) is Toolchain.CLOJURE
    assert suggested_runtime(Toolchain.CLOJURE, image("clojure:temurin-21-lein")) == (
        "eclipse-temurin:21-jre"
    )
    assert toolchain_of(image("docker.io/haskell:9.8.1-slim-buster")) is Toolchain.HASKELL
    assert suggested_runtime(Toolchain.HASKELL, image("haskell:9.8.1-slim-buster")) == (
        "debian:buster-slim"
    )
    assert toolchain_of(image("google/dart:2.15.0")) is Toolchain.DART
    assert suggested_runtime(Toolchain.DART, image("dart:stable")) == "scratch"


def test_swift_image_is_a_toolchain_but_its_slim_variant_is_not() -> None:
    assert toolchain_of(parse_image("swift:5.10-jammy")) is Toolchain.SWIFT
    assert toolchain_of(parse_image("swift:5.10-jammy-slim")) is None
    assert suggested_runtime(Toolchain.SWIFT, parse_image("swift:5.10-jammy")) == "swift:5.10-slim"
    assert suggested_runtime(Toolchain.SWIFT, parse_image("swift:latest")) == "swift:slim"


def test_crystal_nim_and_ocaml_images_are_toolchains_and_r_images_are_not() -> None:
    image = parse_image
    assert toolchain_of(image("crystallang/crystal:1.12-alpine")) is Toolchain.CRYSTAL
    assert toolchain_of(image("nimlang/nim:2.0.2")) is Toolchain.NIM
    assert toolchain_of(image("ocaml/opam:debian-12-ocaml-5.1")) is Toolchain.OCAML
    assert toolchain_of(image("rocker/r-ver:4.3.2")) is None
    assert suggested_runtime(Toolchain.CRYSTAL, image("crystallang/crystal:1.12-alpine")) == (
        "alpine:3.22"
    )
    assert suggested_runtime(Toolchain.NIM, image("nimlang/nim:2.0.2")) == "debian:bookworm-slim"
