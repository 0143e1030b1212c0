<?php
namespace Ledger;
final class Ledger {}
