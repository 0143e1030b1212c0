package org.example;

public class App { public static void main(String[] a) {} }
