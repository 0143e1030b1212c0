package org.example;
class Core {}
